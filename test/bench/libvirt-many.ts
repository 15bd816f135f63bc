import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../provider/core/model";
import { openLibvirtDriver, type LibvirtDriver } from "../../provider/drivers/libvirt/driver";
import { resolveDomainContext } from "../../provider/drivers/libvirt/resources/vm-context";
import { buildDomainXml } from "../../provider/drivers/libvirt/xml";
import { useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix } from "../support/testbeds";
import type { BenchResult } from "./types";

/**
 * Issue 13, many VMs on one host: N running TCG guests (32 MiB, no disk) created, updated
 * (a label) and destroyed on one real libvirtd, through the real Pulumi engine and provider
 * host, against the same N done one after another with `virsh` (define, start, re-define,
 * destroy, undefine: one process per step, as an operator's script runs them) and against our
 * provider at parallelism 1. The three legs run in one process, one after another, on the
 * same domain XML. Zero failures is part of the figure: libvirtd's per-client request limit
 * and job locks are for our queue to absorb, not for users to see as errors.
 */
const VMS = Number(process.env.NOVACRON_BENCH_MANY_VMS ?? 50);
const URI = "qemu:///system";
const HOSTS = JSON.stringify({ kvm: { driver: "libvirt", uri: URI } });
const TARGET = 3;

function vmArgs(name: string, round: string) {
  return {
    host: "kvm",
    name,
    machine: "pc",
    memory: { sizeMiB: 32 },
    powerState: "running" as const,
    labels: { bench: "many", round },
    updatePolicy: { shutdownTimeoutSeconds: 0 },
  };
}

function program(prefix: string, round: () => string) {
  return async () => {
    const nc = require(path.join(REPO, "dist/sdk")) as typeof import("../../sdk");
    for (let i = 0; i < VMS; i++) new nc.VirtualMachine(`vm-${i}`, vmArgs(`${prefix}-${i}`, round()));
  };
}

/** A failed leg must not leave running guests behind for the next one. */
function leftovers(prefix: string): void {
  const names = execFileSync("virsh", ["-c", URI, "list", "--all", "--name"], { encoding: "utf8" }).split("\n");
  for (const name of names.filter((n) => n.startsWith(`${prefix}-`))) {
    for (const step of ["destroy", "undefine"]) {
      try {
        execFileSync("virsh", ["-c", URI, step, name], { stdio: "ignore" });
      } catch {
        // not running / already gone
      }
    }
  }
}

/** Busy and total jiffies of the whole machine (every process: QEMU, libvirtd, engine, virsh). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3] + fields[4]; // idle + iowait
  return { busy: total - idle, total };
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux ABI Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Wall seconds of a leg, and the CPU-seconds the whole machine spent meanwhile: cpu / wall near
 * the core count means the leg was bound by this machine's CPU, not by waiting.
 */
interface Leg {
  wall: number;
  cpu: number;
}

async function measure(work: () => Promise<unknown>): Promise<Leg> {
  const start = process.hrtime.bigint();
  const before = machineTicks().busy;
  await work();
  return { wall: Number(process.hrtime.bigint() - start) / 1e9, cpu: (machineTicks().busy - before) / TICKS_PER_SECOND };
}

function sum(legs: Leg[]): Leg {
  return { wall: legs.reduce((a, l) => a + l.wall, 0), cpu: legs.reduce((a, l) => a + l.cpu, 0) };
}

function show(leg: Leg): string {
  return `${leg.wall.toFixed(1)} s (machine CPU ${leg.cpu.toFixed(1)} s)`;
}

/** create, update and destroy of all N through the engine; throws on any failed resource. */
async function engineLeg(prefix: string, parallel: number | undefined): Promise<{ total: Leg; create: Leg; update: Leg; destroy: Leg }> {
  let round = "1";
  const stack: Stack = await LocalWorkspace.createOrSelectStack({ stackName: prefix, projectName: "novacron-bench", program: program(prefix, () => round) });
  await stack.setConfig("novacron:hosts", { value: HOSTS });
  const opts = parallel ? { parallel } : {};
  try {
    const create = await measure(async () => {
      const r = await stack.up(opts);
      const made = (r.summary.resourceChanges?.create ?? 0) - 1; // the stack itself is one
      if (made !== VMS) throw new Error(`${prefix}: up created ${made} of ${VMS} VMs`);
    });
    round = "2";
    const update = await measure(async () => {
      const r = await stack.up(opts);
      const changed = r.summary.resourceChanges?.update ?? 0;
      if (changed !== VMS) throw new Error(`${prefix}: up updated ${changed} of ${VMS} VMs`);
    });
    const destroy = await measure(() => stack.destroy(opts));
    const left = execFileSync("virsh", ["-c", URI, "list", "--all", "--name"], { encoding: "utf8" })
      .split("\n")
      .filter((n) => n.startsWith(`${prefix}-`));
    if (left.length > 0) throw new Error(`${prefix}: ${left.length} VMs left after destroy`);
    return { total: sum([create, update, destroy]), create, update, destroy };
  } finally {
    leftovers(prefix);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }
}

/** The same N, one after another, one `virsh` process per step. */
async function virshLeg(prefix: string): Promise<Leg> {
  const dir = mkdtempSync(path.join(tmpdir(), "nc-bench-many-"));
  const driver = (await openLibvirtDriver("kvm", { driver: "libvirt", uri: URI })) as LibvirtDriver;
  try {
    const files: { name: string; v1: string; v2: string }[] = [];
    for (let i = 0; i < VMS; i++) {
      const name = `${prefix}-${i}`;
      const uuid = randomUUID(); // the re-define must name the same domain
      const xmlOf = async (round: string) => {
        const spec: VirtualMachineSpec = RESOURCE_MODELS.VirtualMachine.schema.parse(vmArgs(name, round));
        return buildDomainXml(spec, await resolveDomainContext(driver.session, spec, { uuid }));
      };
      const v1 = path.join(dir, `${name}.1.xml`);
      const v2 = path.join(dir, `${name}.2.xml`);
      writeFileSync(v1, await xmlOf("1"));
      writeFileSync(v2, await xmlOf("2"));
      files.push({ name, v1, v2 });
    }
    const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { stdio: "ignore" });
    return await measure(async () => {
      for (const f of files) {
        virsh("define", "--validate", f.v1);
        virsh("start", f.name);
      }
      for (const f of files) virsh("define", "--validate", f.v2);
      for (const f of files) {
        virsh("destroy", f.name);
        virsh("undefine", f.name);
      }
    });
  } finally {
    leftovers(prefix);
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  testbed("libvirt.sh");
  useRealEngine();
  execFileSync("npm", ["run", "-s", "compile"], { cwd: REPO, stdio: "inherit" });
  const prefix = uniquePrefix("bm");
  const virsh = await virshLeg(`${prefix}v`);
  const ours = await engineLeg(`${prefix}p`, undefined);
  const serial = await engineLeg(`${prefix}s`, 1);
  process.stderr.write(
    `libvirt-many: ours create ${show(ours.create)}, update ${show(ours.update)}, destroy ${show(ours.destroy)}; ` +
      `parallelism 1: ${show(serial.create)} / ${show(serial.update)} / ${show(serial.destroy)}; virsh ${show(virsh)}\n`,
  );
  const speedup = virsh.wall / ours.total.wall;
  // Our leg cannot end before the CPU it used, spread over every core, has run: the most any
  // amount of overlap could give against this baseline on this machine.
  const cores = cpus().length;
  const ceiling = virsh.wall / (ours.total.cpu / cores);
  return [
    { name: `${VMS} VMs created+updated+destroyed, ours (engine, default parallelism)`, value: ours.total.wall, unit: "s", target: "0 failures", pass: true },
    { name: `the same ${VMS}, sequential virsh (baseline)`, value: virsh.wall, unit: "s" },
    { name: `the same ${VMS}, ours at parallelism 1`, value: serial.total.wall, unit: "s" },
    { name: "speed-up vs sequential virsh", value: speedup, unit: "x", target: `>= ${TARGET}`, pass: speedup >= TARGET },
    { name: "machine CPU used, ours (all processes)", value: ours.total.cpu, unit: "s" },
    { name: "machine CPU used, sequential virsh (all processes)", value: virsh.cpu, unit: "s" },
    { name: `ceiling on this machine: virsh wall / (our machine CPU / ${cores} cores)`, value: ceiling, unit: "x" },
    { name: "speed-up vs ours at parallelism 1", value: serial.total.wall / ours.total.wall, unit: "x" },
  ];
}
