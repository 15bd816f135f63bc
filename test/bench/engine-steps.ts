import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix } from "../support/testbeds";
import type { BenchResult } from "./types";

/**
 * What a user waits for, through the real Pulumi engine with the compiled package:
 * - Pulumi's floor (an empty program's preview) against the same program importing the sdk
 *   (every run loads the package afresh, as a new `pulumi preview` process would);
 * - the 10-VM program of issue 16 on the real libvirtd (a dir pool, an isolated network, ten
 *   1 GiB qcow2 volumes, ten running kernel-boot VMs of 192 MiB): up, a no-change preview and
 *   destroy, each beside the floor. Rounds are interleaved so load drift falls on both sides.
 */
const ROUNDS = 3;
const VMS = 10;
const DIST = path.join(REPO, "dist");

type Sdk = typeof import("../../sdk");

/** The compiled package loaded from scratch: its modules leave the require cache first. */
function freshSdk(): Sdk {
  for (const key of Object.keys(require.cache)) if (key.startsWith(`${DIST}/`)) delete require.cache[key];
  return require(path.join(DIST, "sdk")) as Sdk;
}

function tenVms(prefix: string, guest: string, poolDir: string) {
  return async () => {
    const nc = freshSdk();
    const labels = { app: "bench" };
    const pool = new nc.StoragePool("pool", { host: "kvm", name: prefix, kind: "dir", path: poolDir, labels });
    const net = new nc.Network("net", { host: "kvm", name: prefix, mode: "isolated", cidr: `10.235.${20 + (process.pid % 200)}.0/24`, dhcp: {}, labels });
    for (let i = 0; i < VMS; i++) {
      const root = new nc.Volume(`root-${i}`, { host: "kvm", pool: pool.name, name: `root-${i}.qcow2`, sizeGiB: 1, format: "qcow2", labels });
      new nc.VirtualMachine(`vm-${i}`, {
        host: "kvm",
        name: `${prefix}-${i}`,
        machine: "pc",
        cpu: { cores: 1 },
        memory: { sizeMiB: 192 },
        disks: { vda: { volume: root.id } },
        nics: { net0: { network: net.name } },
        kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0" },
        powerState: "running",
        updatePolicy: { shutdownTimeoutSeconds: 10 },
        labels,
      });
    }
  };
}

async function stackOf(name: string, program: () => Promise<void>): Promise<Stack> {
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, projectName: "novacron-bench-steps", program });
  await stack.setConfig("novacron:hosts", { value: JSON.stringify({ kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
  return stack;
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(): Promise<BenchResult[]> {
  testbed("libvirt.sh");
  const guest = testbed("guest-image.sh");
  useRealEngine();
  execFileSync("npm", ["run", "-s", "compile"], { cwd: REPO, stdio: "inherit" });
  const prefix = uniquePrefix("es");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  mkdirSync(poolDir, { recursive: true });
  const empty = await stackOf(`${prefix}-empty`, async () => {
    pulumi.log.debug("empty program");
  });
  const importOnly = await stackOf(`${prefix}-import`, async () => {
    freshSdk();
  });
  const ten = await stackOf(`${prefix}-ten`, tenVms(prefix, guest, poolDir));
  const t = { empty: [] as number[], importOnly: [] as number[] };
  let up = 0;
  let preview = 0;
  let destroy = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      t.empty.push(await seconds(() => empty.preview()));
      t.importOnly.push(await seconds(() => importOnly.preview()));
    }
    up = await seconds(() => ten.up());
    t.empty.push(await seconds(() => empty.preview()));
    preview = await seconds(() => ten.preview({ expectNoChanges: true }));
    t.empty.push(await seconds(() => empty.preview()));
    destroy = await seconds(() => ten.destroy());
  } finally {
    await ten.destroy().catch(() => undefined);
    for (const s of [empty, importOnly, ten]) await s.workspace.removeStack(s.name).catch(() => undefined);
    rmSync(poolDir, { recursive: true, force: true });
  }
  const floor = median(t.empty);
  const importCost = median(t.importOnly) - floor;
  return [
    { name: "preview of an empty program (Pulumi's floor)", value: floor, unit: "s" },
    { name: "preview of the same program importing novacron", value: median(t.importOnly), unit: "s" },
    { name: "what importing novacron adds to a preview", value: importCost, unit: "s", target: "<= 0.5", pass: importCost <= 0.5 },
    { name: `up of ${VMS} running VMs (pool, network, volumes)`, value: up, unit: "s" },
    { name: `no-change preview of the ${VMS}-VM program`, value: preview, unit: "s" },
    { name: `destroy of the ${VMS}-VM program (graceful shutdowns)`, value: destroy, unit: "s" },
    { name: "provider cost per VM in a no-change preview, over the floor", value: ((preview - floor) / VMS) * 1000, unit: "ms" },
  ];
}
