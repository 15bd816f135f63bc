import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { LibvirtClient } from "../../provider/drivers/libvirt/rpc";
import { useRealEngine } from "../support/engine";
import { REPO, uniquePrefix } from "../support/testbeds";
import type { BenchResult } from "./types";

/**
 * Issue 13, a big stack: N VMs (NOVACRON_BENCH_STACK_VMS, default 100; the issue asks for 1,000, which does not pass on this 2-core machine yet) over 10 hosts, each host
 * its own libvirtd running libvirt's test driver (test/testbeds/libvirt-test-hosts.sh), through
 * the real engine: a no-change preview against the same resources on a dynamic provider that
 * does nothing, a refresh, and a no-change up. While they run, the provider host's peak RSS
 * (VmHWM) and every daemon's count of client connections are sampled: one per host per process.
 */
const VMS = Number(process.env.NOVACRON_BENCH_STACK_VMS ?? 100);
const HOST_COUNT = 10;
const ROUNDS = 3;

function vmArgs(prefix: string, i: number) {
  return { host: `h${i % HOST_COUNT}`, name: `${prefix}-${i}`, cpu: { cores: 1 }, memory: { sizeMiB: 128 }, powerState: "stopped" as const, labels: { bench: "stack" } };
}

const noopProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: String(inputs.name), outs: inputs };
  },
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string, props: Record<string, unknown>) {
    super(noopProvider, name, props, {}, "bench", "Noop");
  }
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Peak RSS of the dynamic-provider hosts and peak client connections per daemon socket. */
class Sampler {
  peakRssKiB = 0;
  peakConnections = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  constructor(private readonly sockets: string[]) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), 250);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider")) continue;
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        if (hwm) this.peakRssKiB = Math.max(this.peakRssKiB, Number(hwm[1]));
      } catch {
        // exited between listing and reading
      }
    }
    // Server-side rows of accepted connections carry the listening socket's path.
    const rows = execFileSync("ss", ["-xH", "state", "connected"], { encoding: "utf8" }).split("\n");
    for (const sock of this.sockets) {
      const n = rows.filter((r) => r.includes(` ${sock} `)).length;
      this.peakConnections.set(sock, Math.max(this.peakConnections.get(sock) ?? 0, n));
    }
  }
}

export async function run(): Promise<BenchResult[]> {
  useRealEngine();
  const uris = execFileSync("bash", [path.join(REPO, "test/testbeds/libvirt-test-hosts.sh")], {
    encoding: "utf8",
    env: { ...process.env, NOVACRON_TEST_HOSTS: String(HOST_COUNT) },
  })
    .trim()
    .split("\n");
  const hosts = Object.fromEntries(uris.map((uri, i) => [`h${i}`, { driver: "libvirt", uri }]));
  const sockets = uris.map((u) => new URL(u).searchParams.get("socket") as string);
  execFileSync("npm", ["run", "-s", "compile"], { cwd: REPO, stdio: "inherit" });
  const prefix = uniquePrefix("es");
  const stackOf = async (name: string, program: () => Promise<void>): Promise<Stack> => {
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, projectName: "novacron-bench", program });
    await stack.setConfig("novacron:hosts", { value: JSON.stringify(hosts) });
    return stack;
  };
  const ours = await stackOf(`${prefix}-novacron`, async () => {
    const nc = require(path.join(REPO, "dist/sdk")) as typeof import("../../sdk");
    for (let i = 0; i < VMS; i++) new nc.VirtualMachine(`vm-${i}`, vmArgs(prefix, i));
  });
  const floor = await stackOf(`${prefix}-noop`, async () => {
    for (let i = 0; i < VMS; i++) new Noop(`vm-${i}`, vmArgs(prefix, i));
  });
  // test:///default lives while a connection to it is open: without a holder every provider
  // host would find an empty host. The holders use the read-only socket, which the count skips.
  const holders = await Promise.all(sockets.map((s) => LibvirtClient.connect(`test+unix:///default?socket=${s}-ro`, { readOnly: true })));
  const sampler = new Sampler(sockets);
  try {
    const upOurs = await seconds(() => ours.up());
    await floor.up();
    const previews = { ours: [] as number[], floor: [] as number[] };
    sampler.start();
    for (let round = 0; round < ROUNDS; round++) {
      previews.floor.push(await seconds(() => floor.preview({ expectNoChanges: true })));
      previews.ours.push(await seconds(() => ours.preview({ expectNoChanges: true })));
    }
    const refresh = await seconds(async () => {
      const r = await ours.refresh();
      const same = r.summary.resourceChanges?.same ?? 0;
      if (same !== VMS + 1) throw new Error(`refresh saw ${same - 1} of ${VMS} VMs unchanged: ${JSON.stringify(r.summary.resourceChanges)}`);
    });
    const noChangeUp = await seconds(async () => {
      const r = await ours.up();
      const changed = Object.entries(r.summary.resourceChanges ?? {}).filter(([k, n]) => k !== "same" && n > 0);
      if (changed.length > 0) throw new Error(`a no-change up changed something: ${JSON.stringify(r.summary.resourceChanges)}`);
    });
    sampler.stop();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ratio = median(previews.ours) / median(previews.floor);
    const rssMiB = sampler.peakRssKiB / 1024;
    const maxConn = Math.max(...sampler.peakConnections.values());
    const minConn = Math.min(...sampler.peakConnections.values());
    return [
      { name: `no-change preview, ${VMS} VMs on ${HOST_COUNT} hosts (median of ${ROUNDS})`, value: median(previews.ours), unit: "s" },
      { name: `no-change preview, ${VMS} no-op resources (baseline)`, value: median(previews.floor), unit: "s" },
      { name: "preview vs the no-op provider", value: ratio, unit: "x", target: "<= 1.2", pass: ratio <= 1.2 },
      { name: `refresh of ${VMS} VMs`, value: refresh, unit: "s", target: "< 30", pass: refresh < 30 },
      { name: `refresh per VM`, value: (refresh / VMS) * 1000, unit: "ms" },
      { name: `no-change up of ${VMS} VMs`, value: noChangeUp, unit: "s" },
      { name: `up creating ${VMS} VMs, per VM`, value: (upOurs / VMS) * 1000, unit: "ms" },
      { name: "provider host peak RSS", value: rssMiB, unit: "MiB", target: "< 300 MB", pass: rssMiB * 1.048576 < 300 },
      { name: "most connections to one host at once (every host used)", value: maxConn, unit: "conn", target: "1 per host", pass: maxConn === 1 && minConn === 1 },
    ];
  } finally {
    sampler.stop();
    await ours.destroy().catch(() => undefined);
    await floor.destroy().catch(() => undefined);
    await ours.workspace.removeStack(ours.name, { force: true }).catch(() => undefined);
    await floor.workspace.removeStack(floor.name, { force: true }).catch(() => undefined);
    await Promise.all(holders.map((h) => h.close()));
  }
}
