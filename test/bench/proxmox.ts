import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { OperationContext } from "../../provider/core/driver";
import { VirtualMachineInputs } from "../../provider/core/model";
import { PveClient } from "../../provider/drivers/proxmox/api/client";
import { ProxmoxVmResource } from "../../provider/drivers/proxmox/resources/vm";
import { fakepve, type FakePve } from "../integration/proxmox/testbed";
import type { BenchResult } from "./types";

const CYCLES = 20;
const ROUNDS = 10;
const WARMUP_ROUNDS = 5;

interface Totals {
  ms: number;
  requests: number;
  /** This process's CPU time (user + system) during the cycles, ms. */
  cpuMs: number;
}

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

const ctx = (): OperationContext => ({ progress: () => undefined, deadline: Date.now() + 60_000, connect: () => Promise.reject(new Error("none")) });

const specs = (round: number) =>
  Array.from({ length: CYCLES }, (_, i) =>
    VirtualMachineInputs.parse({
      host: "pve",
      name: `bench-ts-${process.pid}-${round}-${i}`,
      cpu: { cores: 2 },
      memory: { sizeMiB: 1024 },
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
      nics: { net0: { bridge: "vmbr0" } },
      updatePolicy: { shutdownTimeoutSeconds: 10 },
    }),
  );

/**
 * create (running) → stop → delete through the driver, as `pulumi up` / `destroy` drive it. The
 * specs are parsed before the clock starts: the engine's check() does that, not the driver.
 */
async function ours(pve: FakePve, client: PveClient, round: number): Promise<Totals> {
  const vms = new ProxmoxVmResource(client, pve.node);
  const all = specs(round);
  const before = client.roundTrips;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const spec of all) {
    const made = await vms.create(spec, ctx());
    const stopped = { ...spec, powerState: "stopped" as const };
    await vms.update(made.id, made.spec, stopped, { changes: [], worst: "live", replaces: [] }, ctx());
    await vms.delete(made.id, stopped, ctx());
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, requests: client.roundTrips - before, cpuMs: cpuMsSince(cpu0) };
}

/** A hand-written client: one keep-alive pool and one ticket for the whole bench, as the driver's. */
interface BareClient {
  call(method: string, path: string, form?: Record<string, string>): Promise<unknown>;
  requests: number;
  close(): Promise<void>;
}

async function bareClient(pve: FakePve): Promise<BareClient> {
  const pool = new Pool(pve.url, { connect: { ca: readFileSync(pve.caFile, "utf8") }, connections: 8 });
  let auth: { cookie: string; csrf: string } | undefined;
  const bare: BareClient = {
    requests: 0,
    async call(method, path, form) {
      bare.requests++;
      const headers: Record<string, string> = {};
      if (auth) headers.cookie = auth.cookie;
      if (auth && method !== "GET") headers.csrfpreventiontoken = auth.csrf;
      let body: string | undefined;
      if (form) {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(form).toString();
      }
      const res = await pool.request({ path: `/api2/json${path}`, method: method as "GET", headers, body });
      const json = (await res.body.json()) as { data: unknown };
      if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode}`);
      return json.data;
    },
    close: () => pool.close(),
  };
  const login = (await bare.call("POST", "/access/ticket", { username: pve.username, password: pve.password })) as { ticket: string; CSRFPreventionToken: string };
  auth = { cookie: `PVEAuthCookie=${login.ticket}`, csrf: login.CSRFPreventionToken };
  return bare;
}

/**
 * The same VM lifecycle as bare HTTP calls making exactly the driver's requests (the same paths,
 * parameters and order: nextid, create with start=1, its task, the config read back; the status,
 * shutdown, its task, the config; the status, destroy, its task), on one keep-alive pool with the
 * same TLS trust and ticket kept for the whole bench as the driver keeps its own: what a careful
 * hand-written script does, minus any translation. (A pool per round made the two sides unequal:
 * fakepve answers a long-lived connection ~10 % slower than a fresh one, measured per request.)
 */
async function baseline(pve: FakePve, bare: BareClient, round: number): Promise<Totals> {
  const before = bare.requests;
  const call = (method: string, path: string, form?: Record<string, string>) => bare.call(method, path, form);
  const wait = async (upid: unknown) => {
    for (;;) {
      const s = (await call("GET", `/nodes/${pve.node}/tasks/${String(upid)}/status`)) as { status: string; exitstatus?: string };
      if (s.status === "stopped") {
        if (s.exitstatus !== "OK") throw new Error(String(s.exitstatus));
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const description = "Managed by NovaCron (Pulumi); the line below holds its labels.\nnovacron-labels: {}";
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CYCLES; i++) {
    const vmid = String(await call("GET", "/cluster/nextid"));
    const qemu = `/nodes/${pve.node}/qemu`;
    const form = {
      vmid,
      name: `bench-http-${process.pid}-${round}-${i}`,
      machine: "q35",
      sockets: "1",
      cores: "2",
      memory: "1024",
      bios: "seabios",
      tags: "novacron",
      description,
      scsihw: "virtio-scsi-single",
      scsi0: "local-lvm:1",
      net0: "model=virtio,bridge=vmbr0",
      start: "1",
    };
    await wait(await call("POST", qemu, form));
    await call("GET", `${qemu}/${vmid}/config`);
    await call("GET", `${qemu}/${vmid}/status/current`);
    await wait(await call("POST", `${qemu}/${vmid}/status/shutdown`, { timeout: "10" }));
    await call("GET", `${qemu}/${vmid}/config`);
    await call("GET", `${qemu}/${vmid}/status/current`);
    await wait(await call("DELETE", `${qemu}/${vmid}?purge=1&destroy-unreferenced-disks=1`));
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, requests: bare.requests - before, cpuMs: cpuMsSince(cpu0) };
}

/**
 * create+start, stop and delete of one VM, N times, through the driver and through bare HTTP
 * calls against the same fakepve (time scale 0: tasks end at once, so this is pure client
 * overhead), interleaved in rounds (order flipped each round); the figure is the median of the rounds' pair ratios. Target: ours within 1.1× the bare calls.
 */
export async function run(): Promise<BenchResult[]> {
  const pve = fakepve();
  const client = new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile });
  const bare = await bareClient(pve);
  try {
    // Warm-up: module loading, TLS, login, and the JIT. Both sides' CPU per round still fell by
    // half over ten rounds after one round of warm-up (the driver runs more code to warm up),
    // so each side runs WARMUP_ROUNDS unmeasured rounds first.
    for (let w = 1; w <= WARMUP_ROUNDS; w++) {
      await ours(pve, client, -w);
      await baseline(pve, bare, -w);
    }
    const mine: Totals[] = [];
    const theirs: Totals[] = [];
    // Interleaved, and the order flipped every round, so neither side always runs right after the other's garbage.
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        mine.push(await ours(pve, client, r));
        theirs.push(await baseline(pve, bare, r));
      } else {
        theirs.push(await baseline(pve, bare, r));
        mine.push(await ours(pve, client, r));
      }
    }
    const medianOf = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
    const best = (runs: Totals[]) => runs.reduce((x, y) => (y.ms < x.ms ? y : x));
    const a = best(mine);
    const b = best(theirs);
    // The ratio of each round's pair (run back to back), then the median: a burst of load from
    // other processes on this shared machine spoils one pair, not the figure.
    const pairs = mine.map((m, i) => m.ms / theirs[i].ms).sort((x, y) => x - y);
    process.stderr.write(
      `  pair ratios by round: ${mine.map((m, i) => (m.ms / theirs[i].ms).toFixed(2)).join(" ")}; CPU ms ${mine.map((m, i) => `${m.cpuMs.toFixed(0)}/${theirs[i].cpuMs.toFixed(0)}`).join(" ")}\n`,
    );
    const ratio = (pairs[(pairs.length - 1) >> 1] + pairs[pairs.length >> 1]) / 2;
    // The comparison means something only while both sides make the same requests.
    if (a.requests !== b.requests)
      throw new Error(`the driver made ${a.requests / CYCLES} requests per VM and the bare client ${b.requests / CYCLES}: update the bare side to the driver's calls`);
    return [
      { name: "create+start+stop+delete: wall time per VM, driver", value: a.ms / CYCLES, unit: "ms" },
      { name: "create+start+stop+delete: wall time per VM, bare HTTP", value: b.ms / CYCLES, unit: "ms" },
      { name: "create+start+stop+delete: requests per VM, driver", value: a.requests / CYCLES, unit: "requests" },
      { name: "create+start+stop+delete: requests per VM, bare HTTP", value: b.requests / CYCLES, unit: "requests" },
      { name: "create+start+stop+delete: best-round ratio driver/bare HTTP", value: a.ms / b.ms, unit: "x" },
      {
        name: "create+start+stop+delete: client CPU per VM, driver / bare HTTP (medians)",
        value: medianOf(mine.map((m) => m.cpuMs)) / CYCLES,
        unit: `/ ${(medianOf(theirs.map((t) => t.cpuMs)) / CYCLES).toFixed(3)} ms`,
      },
      { name: "create+start+stop+delete: median pair ratio driver/bare HTTP", value: ratio, unit: "x", target: "<= 1.1", pass: ratio <= 1.1 },
    ];
  } finally {
    await client.close();
    await bare.close();
  }
}
