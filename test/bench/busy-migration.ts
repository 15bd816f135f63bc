import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import type { OperationContext } from "../../provider/core/driver";
import type { HostConfig } from "../../provider/core/hosts";
import { classifyChange } from "../../provider/core/classify";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../provider/core/model";
import { LIBVIRT_CAPABILITIES } from "../../provider/drivers/libvirt/capabilities";
import { type LibvirtDriver, openLibvirtDriver } from "../../provider/drivers/libvirt/driver";
import { completedJobStats, type MigrationResult } from "../../provider/drivers/libvirt/migration";
import { paramsToRecord } from "../../provider/drivers/libvirt/typed-params";
import { testbed, uniquePrefix, virshMaybe } from "../support/testbeds";
import type { BenchResult } from "./types";

/**
 * Issue 13, item 1: live migration of a guest that keeps rewriting its memory. The testbed guest
 * runs test/testbeds/guest/dirty.c (novacron.dirty=<MiB>): one vCPU rewriting every word of
 * its working set with new non-zero values, pass after pass, as fast as TCG runs it — the
 * highest dirty rate this machine's guest produces (QEMU measures it; the figure is reported).
 *
 * Each side moves a freshly booted guest of the same spec from the first testbed host to the
 * second: our driver (the path a `host` change takes: LibvirtVmResource.update → migrateLive,
 * which picks the strategy), the same with updatePolicy.allowPostCopy (the driver may end the
 * move by post-copy), and `virsh migrate --live --p2p` at libvirt's default settings, in
 * alternating order (NOVACRON_BENCH_BUSY_ROUNDS rounds, default 1). Figures are libvirt's (the
 * destination's completed job); QEMU's dirty rate is sampled before and after each move.
 * A migration not done within LIMIT_MS is aborted and reported as not converged.
 *
 * Up to 10 GiB of guest RAM on a shared machine: every guest this bench names is destroyed in
 * a finally, on SIGINT/SIGTERM, and at the start (left over from a killed run).
 */
type LibvirtHost = Extract<HostConfig, { driver: "libvirt" }>;
const SOURCE: LibvirtHost = { driver: "libvirt", uri: "qemu:///system", peerUri: "qemu+tcp://10.213.0.1/system", migrationUri: "tcp://10.213.0.1" };
const PEER: LibvirtHost = { driver: "libvirt", uri: "qemu+tcp://10.213.0.2/system", migrationUri: "tcp://10.213.0.2" };
const HOSTS: Record<"kvm1" | "kvm2", LibvirtHost> = { kvm1: SOURCE, kvm2: PEER };
const execFileAsync = promisify(execFile);
/** Guest RAM and the part of it the workload keeps rewriting. */
const SIZES = (process.env.NOVACRON_BENCH_BUSY_SIZES ?? "1,10").split(",").map((gib) => ({ gib: Number(gib), dirtyMiB: Number(gib) >= 10 ? 4096 : 512 }));
const ROUNDS = Number(process.env.NOVACRON_BENCH_BUSY_ROUNDS ?? 1);
const TOTAL_TARGET_MS = 60_000;
const DOWNTIME_TARGET_MS = 200;
/** Twice the target: long enough to tell "slow" from "never converges". */
const LIMIT_MS = 120_000;
/** This bench's own name tag: the start-up sweep removes only guests carrying it. */
const TAG = "bmig";

interface Outcome {
  converged: boolean;
  totalMs: number;
  downtimeMs?: number;
  bytesMoved?: number;
  iterations?: number;
  dirtyRateMiBs?: number;
  throttlePct?: number;
  postCopyAfterPass?: number;
  choices?: string[];
  error?: string;
  /** QEMU's dirty-rate sample on the source before the move and on the destination after it, MB/s. */
  rateBefore?: number;
  rateAfter?: number;
}

export async function run(): Promise<BenchResult[]> {
  testbed("libvirt.sh");
  testbed("libvirt-peer.sh");
  const guest = testbed("guest-image.sh");
  sweepLeftovers();
  const drivers = {
    kvm1: (await openLibvirtDriver("kvm1", SOURCE)) as LibvirtDriver,
    kvm2: (await openLibvirtDriver("kvm2", PEER)) as LibvirtDriver,
  };
  const names: string[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    destroyByName(names);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const results: BenchResult[] = [];
  try {
    for (const size of SIZES) {
      const needKiB = (size.dirtyMiB + 512) * 1024 * 2; // source and destination both hold the working set
      const availableKiB = Number(/MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
      if (availableKiB < needKiB * 1.5) {
        results.push({
          name: `${size.gib} GiB busy guest: skipped, ${(availableKiB / 2 ** 20).toFixed(1)} GiB free, needs ${((needKiB * 1.5) / 2 ** 20).toFixed(1)}`,
          value: Number.NaN,
          unit: "",
          pass: false,
        });
        continue;
      }
      results.push(...(await benchSize(drivers, guest, size, names)));
    }
  } finally {
    destroyByName(names);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await drivers.kvm1.close();
    await drivers.kvm2.close();
  }
  return results;
}

/**
 * Each migration gets a freshly booted guest, dirtying at full speed, moved kvm1 → kvm2: a
 * guest migrated once is no fair subject for the next (the workload was seen to stall after a
 * move), and the same direction keeps the two sides comparable. Sides alternate per round.
 */
async function benchSize(drivers: Record<"kvm1" | "kvm2", LibvirtDriver>, guest: string, size: { gib: number; dirtyMiB: number }, names: string[]): Promise<BenchResult[]> {
  const log = (line: string) => process.stderr.write(`  [${size.gib} GiB] ${line}\n`);
  const ours: Outcome[] = [];
  const postCopy: Outcome[] = [];
  const theirs: Outcome[] = [];
  const order = Array.from({ length: ROUNDS }, (_, r) => (r % 2 === 0 ? (["ours", "virsh", "post-copy"] as const) : (["post-copy", "virsh", "ours"] as const))).flat();
  for (const who of order) {
    const name = `${uniquePrefix(TAG)}-${size.gib}g-${who[0]}`;
    names.push(name);
    try {
      const spec = RESOURCE_MODELS.VirtualMachine.schema.parse({
        host: "kvm1",
        name,
        machine: "pc",
        cpu: { cores: 1 },
        memory: { sizeMiB: size.gib * 1024 },
        kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: `console=ttyS0 novacron.dirty=${size.dirtyMiB}` },
        updatePolicy: { shutdownTimeoutSeconds: 0 },
      });
      const id = (await drivers.kvm1.resource("VirtualMachine")!.create(spec, ctx(drivers, log))).id;
      const rateBefore = await waitUntilDirtying(HOSTS.kvm1.uri, name, size.dirtyMiB, log);
      log(`${who}: guest dirtying ${rateBefore} MB/s before the move (QEMU's measurement)`);
      const outcome = who === "virsh" ? await migrateVirsh(drivers, name, id, "kvm1", "kvm2", log) : await migrateOurs(drivers, id, spec, "kvm2", who === "post-copy", log);
      outcome.rateBefore = rateBefore;
      const where = outcome.converged ? "kvm2" : "kvm1";
      if (!virshMaybe(HOSTS[where].uri, "domstate", name)?.includes("running")) throw new Error(`the guest is not running on ${where} after ${who}'s migration`);
      if (outcome.converged) outcome.rateAfter = await measureDirtyRate(HOSTS.kvm2.uri, name);
      log(`${who} kvm1 → kvm2: ${describe(outcome)}`);
      ({ ours, "post-copy": postCopy, virsh: theirs })[who].push(outcome);
    } finally {
      destroyByName([name]);
    }
  }
  return [...figures(size, ours, theirs), ...postCopyFigures(size, postCopy, theirs)];
}

function figures(size: { gib: number; dirtyMiB: number }, ours: Outcome[], theirs: Outcome[]): BenchResult[] {
  const label = `${size.gib} GiB guest rewriting ${size.dirtyMiB} MiB`;
  const worst = (xs: Outcome[], pick: (o: Outcome) => number | undefined) => Math.max(...xs.map((o) => pick(o) ?? Number.NaN));
  const oursOk = ours.every((o) => o.converged);
  const virshOk = theirs.every((o) => o.converged);
  const oursTotal = oursOk ? worst(ours, (o) => o.totalMs) : Number.NaN;
  const virshTotal = virshOk ? worst(theirs, (o) => o.totalMs) : Number.NaN;
  const oursDowntime = oursOk ? worst(ours, (o) => o.downtimeMs) : Number.NaN;
  const rows: BenchResult[] = [
    { name: `${label}: dirty rate before the move (QEMU; ours / virsh guests)`, value: worst(ours, (o) => o.rateBefore), unit: `/ ${worst(theirs, (o) => o.rateBefore)} MB/s` },
    { name: `${label}: dirty rate on arrival (ours / virsh)`, value: worst(ours, (o) => o.rateAfter), unit: `/ ${worst(theirs, (o) => o.rateAfter)} MB/s` },
    { name: `${label}: ours, total (worst of ${ours.length})`, value: oursTotal, unit: "ms", target: `< ${TOTAL_TARGET_MS}`, pass: oursOk && oursTotal < TOTAL_TARGET_MS },
    { name: `${label}: ours, downtime (worst)`, value: oursDowntime, unit: "ms", target: `< ${DOWNTIME_TARGET_MS}`, pass: oursOk && oursDowntime < DOWNTIME_TARGET_MS },
    { name: `${label}: ours, data sent (worst)`, value: worst(ours, (o) => o.bytesMoved) / 2 ** 20, unit: "MiB" },
    {
      name: `${label}: ours, passes / peak dirty rate / throttle`,
      value: worst(ours, (o) => o.iterations),
      unit: `/ ${worst(ours, (o) => o.dirtyRateMiBs)} MiB/s / ${worst(ours, (o) => o.throttlePct)} %`,
    },
    virshOk
      ? { name: `${label}: virsh --live default, total (worst of ${theirs.length})`, value: virshTotal, unit: "ms" }
      : { name: `${label}: virsh --live default: never converged within ${LIMIT_MS / 1000} s (aborted)`, value: Number.NaN, unit: "ms" },
    { name: `${label}: virsh, downtime (worst)`, value: virshOk ? worst(theirs, (o) => o.downtimeMs) : Number.NaN, unit: "ms" },
    { name: `${label}: virsh, data sent (worst)`, value: worst(theirs, (o) => o.bytesMoved) / 2 ** 20, unit: "MiB" },
    { name: `${label}: virsh, passes / peak dirty rate`, value: worst(theirs, (o) => o.iterations), unit: `/ ${worst(theirs, (o) => o.dirtyRateMiBs)} MiB/s` },
    {
      name: `${label}: virsh total / ours total`,
      value: virshOk ? virshTotal / oursTotal : Number.POSITIVE_INFINITY,
      unit: "x",
      target: "> 1 (faster than virsh)",
      pass: oursOk && (!virshOk || virshTotal > oursTotal),
    },
  ];
  const choices = ours.find((o) => o.choices)?.choices;
  if (choices) process.stderr.write(`  [${size.gib} GiB] strategy chosen by the driver:\n${choices.map((c) => `    - ${c}`).join("\n")}\n`);
  return rows;
}

/** The same move with updatePolicy.allowPostCopy: the driver may end it by post-copy. */
function postCopyFigures(size: { gib: number; dirtyMiB: number }, ours: Outcome[], theirs: Outcome[]): BenchResult[] {
  const label = `${size.gib} GiB guest rewriting ${size.dirtyMiB} MiB, post-copy allowed`;
  const worst = (xs: Outcome[], pick: (o: Outcome) => number | undefined) => Math.max(...xs.map((o) => pick(o) ?? Number.NaN));
  const ok = ours.every((o) => o.converged);
  const total = ok ? worst(ours, (o) => o.totalMs) : Number.NaN;
  const downtime = ok ? worst(ours, (o) => o.downtimeMs) : Number.NaN;
  const virshOk = theirs.every((o) => o.converged);
  const virshTotal = virshOk ? worst(theirs, (o) => o.totalMs) : Number.NaN;
  const switched = ours.filter((o) => o.postCopyAfterPass !== undefined).length;
  const choices = ours.find((o) => o.choices)?.choices?.filter((c) => c.startsWith("post-copy"));
  if (choices) process.stderr.write(`  [${size.gib} GiB] with post-copy allowed:\n${choices.map((c) => `    - ${c}`).join("\n")}\n`);
  return [
    { name: `${label}: ours, total (worst of ${ours.length})`, value: total, unit: "ms", target: `< ${TOTAL_TARGET_MS}`, pass: ok && total < TOTAL_TARGET_MS },
    { name: `${label}: ours, downtime (worst)`, value: downtime, unit: "ms", target: `< ${DOWNTIME_TARGET_MS}`, pass: ok && downtime < DOWNTIME_TARGET_MS },
    { name: `${label}: ours, data sent (worst)`, value: worst(ours, (o) => o.bytesMoved) / 2 ** 20, unit: "MiB" },
    { name: `${label}: moves that switched to post-copy / after pass`, value: switched, unit: `of ${ours.length} / ${worst(ours, (o) => o.postCopyAfterPass)}` },
    {
      name: `${label}: virsh total / ours total`,
      value: virshOk ? virshTotal / total : Number.POSITIVE_INFINITY,
      unit: "x",
      target: "> 1 (faster than virsh)",
      pass: ok && (!virshOk || virshTotal > total),
    },
  ];
}

function describe(o: Outcome): string {
  if (!o.converged) return `not done after ${o.totalMs} ms (${o.error ?? "aborted"})`;
  return `${o.totalMs} ms, downtime ${o.downtimeMs} ms, ${((o.bytesMoved ?? 0) / 2 ** 20).toFixed(0)} MiB sent, ${o.iterations ?? "?"} passes, peak dirty ${o.dirtyRateMiBs ?? "?"} MiB/s, throttle ${o.throttlePct ?? 0} %, dirtying ${o.rateAfter ?? "?"} MB/s on arrival`;
}

function ctx(drivers: Record<"kvm1" | "kvm2", LibvirtDriver>, log: (line: string) => void): OperationContext {
  return {
    progress: log,
    deadline: Date.now() + LIMIT_MS,
    connect: async (host) => {
      if (host !== "kvm1" && host !== "kvm2") throw new Error(`unknown host ${host}`);
      return drivers[host];
    },
  };
}

/** Our driver's path for a `host` change: the strategy and its report are the driver's own. */
async function migrateOurs(
  drivers: Record<"kvm1" | "kvm2", LibvirtDriver>,
  id: string,
  spec: VirtualMachineSpec,
  to: "kvm1" | "kvm2",
  allowPostCopy: boolean,
  log: (line: string) => void,
): Promise<Outcome> {
  const next: VirtualMachineSpec = { ...spec, host: to, updatePolicy: { ...spec.updatePolicy, allowPostCopy } };
  const plan = classifyChange("VirtualMachine", spec, next, LIBVIRT_CAPABILITIES);
  const from = spec.host as "kvm1" | "kvm2";
  const started = Date.now();
  try {
    const observed = await drivers[from].resource("VirtualMachine")!.update(id, spec, next, plan, ctx(drivers, log));
    const m = observed.outputs.migration as MigrationResult | undefined;
    if (!m) throw new Error("the update did not migrate live");
    return { converged: true, ...m };
  } catch (error) {
    return { converged: false, totalMs: Date.now() - started, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * `virsh migrate --live` with libvirt's defaults. --p2p (the hosts sit in separate namespaces
 * and reach each other only by address), the destination URI and the data address are
 * addressing, and --persistent --undefinesource move the definition as our driver does; none of
 * them tunes the copy (no auto-converge, no downtime or bandwidth setting, no compression).
 */
async function migrateVirsh(
  drivers: Record<"kvm1" | "kvm2", LibvirtDriver>,
  name: string,
  uuid: string,
  from: "kvm1" | "kvm2",
  to: "kvm1" | "kvm2",
  log: (line: string) => void,
): Promise<Outcome> {
  const src = HOSTS[from];
  const dst = HOSTS[to];
  const started = Date.now();
  const child = spawn("virsh", ["-c", src.uri, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", name, dst.peerUri ?? dst.uri, dst.migrationUri ?? ""], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += String(d)));
  const done = exited(child);
  // Peak dirty rate and passes as QEMU reports them while the job runs, as for ours.
  const client = await drivers[from].session.get();
  const { dom } = await client.call("domainLookupByUuid", { uuid });
  let peakDirty = 0;
  let timedOut = false;
  for (;;) {
    const code = await Promise.race([done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))]);
    if (code !== undefined) break;
    const stats = await client.call("domainGetJobStats", { dom, flags: 0 }).then(
      ({ params }) => paramsToRecord(params),
      () => undefined,
    );
    if (typeof stats?.memory_dirty_rate === "number") peakDirty = Math.max(peakDirty, (stats.memory_dirty_rate * Number(stats.memory_page_size ?? 4096)) / 2 ** 20);
    if (!timedOut && Date.now() - started > LIMIT_MS) {
      timedOut = true;
      log(`virsh migrate still copying after ${LIMIT_MS / 1000} s: aborting the job`);
      virshMaybe(src.uri, "domjobabort", name);
    }
  }
  const code = await done;
  const wallMs = Date.now() - started;
  if (code !== 0)
    return { converged: false, totalMs: wallMs, dirtyRateMiBs: Math.round(peakDirty) || undefined, error: timedOut ? `aborted after ${LIMIT_MS / 1000} s` : stderr.trim() };
  const stats = await completedJobStats(await drivers[to].session.get(), uuid);
  const num = (k: string) => (typeof stats?.[k] === "number" ? (stats[k] as number) : undefined);
  return {
    converged: true,
    totalMs: num("time_elapsed") ?? wallMs,
    downtimeMs: num("downtime"),
    bytesMoved: num("data_processed") ?? num("memory_processed"),
    iterations: num("memory_iteration"),
    dirtyRateMiBs: Math.round(peakDirty) || undefined,
  };
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

/**
 * Waits until the workload runs (it first populates its working set, minutes for 4 GiB under
 * TCG) and returns the dirty rate QEMU measures then, MB/s, the best of three samples.
 */
async function waitUntilDirtying(uri: string, name: string, dirtyMiB: number, log: (line: string) => void): Promise<number> {
  const until = Date.now() + 300_000;
  let best = 0;
  let samples = 0;
  while (Date.now() < until) {
    const mbs = await measureDirtyRate(uri, name);
    if (mbs >= 20) {
      best = Math.max(best, mbs);
      if (++samples >= 3) return best;
    } else if (samples === 0) {
      log(`waiting for the workload to populate ${dirtyMiB} MiB (QEMU reads ${mbs} MB/s)`);
    }
  }
  throw new Error(`guest ${name} did not start dirtying memory within 300 s`);
}

/** Async, so the event loop keeps answering libvirt's keepalives while QEMU samples. */
async function measureDirtyRate(uri: string, name: string, seconds = 3): Promise<number> {
  await virshAsync(uri, "domdirtyrate-calc", name, "--seconds", String(seconds));
  const until = Date.now() + seconds * 1000 + 20_000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const stats = await virshAsync(uri, "domstats", name, "--dirtyrate");
    if (/dirtyrate\.calc_status=2/.test(stats)) return Number(/dirtyrate\.megabytes_per_second=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return 0;
}

async function virshAsync(uri: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("virsh", ["-c", uri, ...args], { encoding: "utf8", timeout: 60_000 });
  return stdout;
}

/** Destroys and undefines the named guests on both hosts, whatever state they are in (absent is fine). */
function destroyByName(names: string[]): void {
  for (const name of names) {
    for (const host of Object.values(HOSTS)) {
      for (const verb of ["domjobabort", "destroy", "undefine"]) spawnSync("virsh", ["-c", host.uri, verb, name], { stdio: "ignore", timeout: 60_000 });
    }
  }
}

/** Guests of an earlier run of this bench that was killed before its finally ran. */
function sweepLeftovers(): void {
  const mine = new RegExp(`^nc${TAG}[0-9a-z]+-\\d+g-[ov]$`);
  for (const host of Object.values(HOSTS)) {
    const names = (virshMaybe(host.uri, "list", "--all", "--name") ?? "").split("\n").map((n) => n.trim());
    destroyByName(names.filter((n) => mine.test(n)));
  }
}
