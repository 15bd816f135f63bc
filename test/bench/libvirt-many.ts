import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** create, update and destroy of all N through the engine; throws on any failed resource. */
async function engineLeg(prefix: string, parallel: number | undefined): Promise<{ total: number; create: number; update: number; destroy: number }> {
  let round = "1";
  const stack: Stack = await LocalWorkspace.createOrSelectStack({ stackName: prefix, projectName: "novacron-bench", program: program(prefix, () => round) });
  await stack.setConfig("novacron:hosts", { value: HOSTS });
  const opts = parallel ? { parallel } : {};
  try {
    const create = await seconds(async () => {
      const r = await stack.up(opts);
      const made = (r.summary.resourceChanges?.create ?? 0) - 1; // the stack itself is one
      if (made !== VMS) throw new Error(`${prefix}: up created ${made} of ${VMS} VMs`);
    });
    round = "2";
    const update = await seconds(async () => {
      const r = await stack.up(opts);
      const changed = r.summary.resourceChanges?.update ?? 0;
      if (changed !== VMS) throw new Error(`${prefix}: up updated ${changed} of ${VMS} VMs`);
    });
    const destroy = await seconds(() => stack.destroy(opts));
    const left = execFileSync("virsh", ["-c", URI, "list", "--all", "--name"], { encoding: "utf8" })
      .split("\n")
      .filter((n) => n.startsWith(`${prefix}-`));
    if (left.length > 0) throw new Error(`${prefix}: ${left.length} VMs left after destroy`);
    return { total: create + update + destroy, create, update, destroy };
  } finally {
    leftovers(prefix);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }
}

/** The same N, one after another, one `virsh` process per step. */
async function virshLeg(prefix: string): Promise<number> {
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
    return await seconds(async () => {
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
    `libvirt-many: ours create ${ours.create.toFixed(1)} s, update ${ours.update.toFixed(1)} s, destroy ${ours.destroy.toFixed(1)} s; parallelism 1: ${serial.create.toFixed(1)} / ${serial.update.toFixed(1)} / ${serial.destroy.toFixed(1)} s\n`,
  );
  const speedup = virsh / ours.total;
  return [
    { name: `${VMS} VMs created+updated+destroyed, ours (engine, default parallelism)`, value: ours.total, unit: "s", target: "0 failures", pass: true },
    { name: `the same ${VMS}, sequential virsh (baseline)`, value: virsh, unit: "s" },
    { name: `the same ${VMS}, ours at parallelism 1`, value: serial.total, unit: "s" },
    { name: "speed-up vs sequential virsh", value: speedup, unit: "x", target: `>= ${TARGET}`, pass: speedup >= TARGET },
    { name: "speed-up vs ours at parallelism 1", value: serial.total / ours.total, unit: "x" },
  ];
}
