import { mkdir, rm } from "node:fs/promises";
import type { HypervisorCapabilities } from "./capabilities";
import { classifyChange } from "./classify";
import { moveDisk } from "./disk-move";
import type { DiskLocation, DiskTransfer } from "./disk-transfer";
import type { CrossMoveSupport, Observed, OperationContext, ResourceDriver } from "./driver";
import { PartialCreateError } from "./errors";
import type { VirtualMachineSpec } from "./model";

/**
 * A VM's move to another kind of hypervisor, carried out as a transaction (issue #12; the plan
 * is core/cross-move.ts, the choices docs/decisions/0017-cross-hypervisor-move.md):
 *
 *   stop the source → per disk: export, digest, convert, import, read back, digest (disk-move.ts)
 *   → create the VM on the target with the imported disks → start it → only then delete the source.
 *
 * A failure before the target runs undoes the target side and restarts the source, and throws:
 * Pulumi keeps the state pointing at the source. Each step is recorded in a journal first, so a
 * run killed at any point is finished or undone by the next `up` (which plans the same move):
 * the journal names what this move made on the target, and nothing else there is ever removed.
 * Core never imports a driver: the two sides arrive as objects.
 */
type Spec = VirtualMachineSpec;

export interface MoveSide {
  host: string;
  caps: HypervisorCapabilities;
  vms: ResourceDriver<Spec>;
  disks: DiskTransfer;
  support: CrossMoveSupport;
}

/** `copying` until every disk is verified on the target, `defining` from the target create on, `removing-source` once the target runs. */
export type MovePhase = "copying" | "defining" | "removing-source";

export interface MoveRecord {
  version: 1;
  sourceHost: string;
  sourceId: string;
  targetHost: string;
  vmName: string;
  phase: MovePhase;
  /** Whether the guest ran before the move stopped it: an undone move starts it again. */
  sourceWasRunning: boolean;
  /** Disks written on the target by slot; `location` once the import finished. */
  imported: Record<string, { pool: string; name: string; location?: DiskLocation }>;
  targetVmId?: string;
  startedAt: string;
}

/** Where a move's record survives the provider process (dynamic/move-journal.ts: a file). */
export interface MoveJournal {
  /** Where the record lives, for messages. */
  readonly where: string;
  /** A scratch directory of this move for the local copies of its disks. */
  readonly workDir: string;
  read(): Promise<MoveRecord | undefined>;
  write(record: MoveRecord): Promise<void>;
  clear(): Promise<void>;
}

export interface CrossMove {
  id: string;
  old: Spec;
  next: Spec;
  source: MoveSide;
  target: MoveSide;
  journal: MoveJournal;
  ctx: OperationContext;
}

export async function moveAcrossHypervisors(move: CrossMove): Promise<Observed<Spec>> {
  const { id, old, source, target, journal, ctx } = move;
  const say = ctx.progress;
  let record = await journal.read();
  if (record && record.targetHost !== target.host) {
    throw new Error(
      `host: an unfinished move of VM "${old.name}" to host "${record.targetHost}" is recorded (${journal.where}); set host to "${record.targetHost}" so the next up finishes or undoes it, then change it again`,
    );
  }
  const onSource = await source.vms.read(id, old);
  const onTarget = await targetOfEarlierRun(move, record, onSource !== undefined);
  if (onTarget) {
    say(`resuming an interrupted move: VM ${onTarget.id} on "${target.host}" was made by it`);
    record ??= newRecord(move, false);
    record.targetVmId = onTarget.id;
    let running: Observed<Spec>;
    try {
      running = await settleTarget(move, record, onTarget);
    } catch (error) {
      // Undone only while the source exists: without it the target VM is the only copy.
      if (onSource) throw await undo(move, record, error);
      throw error;
    }
    return finish(move, record, running);
  }
  if (!onSource) {
    throw new Error(`host: VM "${old.name}" (${id}) is on neither host "${source.host}" nor host "${target.host}"; nothing was moved`);
  }
  record = { ...newRecord(move, onSource.spec.powerState !== "stopped"), ...(record ? { sourceWasRunning: record.sourceWasRunning, imported: record.imported } : {}) };
  if (Object.keys(record.imported).length > 0) {
    say("removing disks an earlier, interrupted run of this move left on the target");
    await removeImported(move, record);
  }
  await journal.write(record);
  let running: Observed<Spec>;
  try {
    await stopSource(move, onSource);
    await copyDisks(move, record);
    record.phase = "defining";
    await journal.write(record);
    running = await defineOnTarget(move, record);
  } catch (error) {
    throw await undo(move, record, error);
  }
  return finish(move, record, running);
}

function newRecord(move: CrossMove, sourceWasRunning: boolean): MoveRecord {
  return {
    version: 1,
    sourceHost: move.source.host,
    sourceId: move.id,
    targetHost: move.target.host,
    vmName: move.next.name,
    phase: "copying",
    sourceWasRunning,
    imported: {},
    startedAt: new Date().toISOString(),
  };
}

/**
 * The target VM an earlier run made, if any. Trusted only where the journal says the run got
 * that far, or where the source is already gone (the run deleted it and died before Pulumi
 * recorded the target). Any other VM of that name on the target is someone else's.
 */
async function targetOfEarlierRun(move: CrossMove, record: MoveRecord | undefined, sourceExists: boolean): Promise<Observed<Spec> | undefined> {
  const { target, next } = move;
  if (record?.targetVmId) {
    const recorded = await target.vms.read(record.targetVmId, next);
    if (recorded) return recorded;
  }
  const found = await target.vms.find(next);
  if (!found) return undefined;
  const madeByUs = record !== undefined && record.phase !== "copying";
  if (madeByUs || (!sourceExists && found.owned)) return found;
  throw new Error(
    `host: host "${target.host}" already has a VM named "${next.name}" (${found.id}) that this move did not make; nothing was moved. Remove or rename that VM, or move this one under another name`,
  );
}

async function stopSource(move: CrossMove, onSource: Observed<Spec>): Promise<void> {
  const { id, old, source, ctx } = move;
  if (onSource.spec.powerState === "stopped") {
    ctx.progress(`the VM is stopped on "${source.host}"`);
    return;
  }
  ctx.progress(`shutting the guest down on "${source.host}" (graceful, forced after ${old.updatePolicy.shutdownTimeoutSeconds} s)`);
  await setPower(source, id, onSource.spec, "stopped", ctx);
  ctx.progress(`the VM is stopped on "${source.host}"`);
}

/** Power changes go through the driver's own update, which knows its graceful shutdown. */
async function setPower(side: MoveSide, id: string, from: Spec, powerState: Spec["powerState"], ctx: OperationContext): Promise<Observed<Spec>> {
  const to = { ...from, powerState };
  return side.vms.update(id, from, to, classifyChange("VirtualMachine", from, to, side.caps), ctx);
}

async function copyDisks(move: CrossMove, record: MoveRecord): Promise<void> {
  const { id, old, source, journal } = move;
  const locations = await source.disks.listDisks(id);
  await rm(journal.workDir, { recursive: true, force: true });
  for (const slot of Object.keys(old.disks)) {
    const location = locations.find((l) => l.slot === slot);
    if (!location) throw new Error(`disks.${slot}: the VM on "${source.host}" has no disk in this slot (it has ${locations.map((l) => l.slot).join(", ") || "none"})`);
    await copyDisk(move, record, location);
  }
  await rm(journal.workDir, { recursive: true, force: true });
}

/**
 * One disk, by the data path of core/disk-move.ts: the guest-visible digest is taken of the
 * source, checked across the format conversion, and checked again on the image read back from
 * the target. The target file's name is recorded before the first byte goes, so a run killed
 * mid-import leaves a file the next run knows to remove.
 */
async function copyDisk(move: CrossMove, record: MoveRecord, location: DiskLocation): Promise<void> {
  const { source, target, next, journal, ctx } = move;
  const slot = location.slot;
  const label = `disks.${slot}`;
  const pool = next.disks[slot]?.pool;
  if (!pool) throw new Error(`${label}.pool: the target needs a pool (datastore) for the moved disk`);
  const name = target.support.importedDiskName(next.name, slot);
  record.imported[slot] = { pool, name };
  await journal.write(record);
  await mkdir(journal.workDir, { recursive: true });
  ctx.progress(`${label}: copying ${location.address} (${mib(location.virtualSize)} MiB as the guest sees it) from "${source.host}" into "${pool}" on "${target.host}" as ${name}`);
  const moved = await moveDisk(source.disks, location, target.disks, { pool, name }, { workDir: journal.workDir, verifyTarget: true, progress: ctx.progress });
  record.imported[slot] = { pool, name, location: { ...moved.location, slot } };
  await journal.write(record);
  ctx.progress(`${label}: guest-visible bytes identical on both hosts (sha256 ${short(moved.sha256)}, ${mib(moved.virtualSize)} MiB)`);
}

/** Creates the VM on the target over the imported disks; it runs (and has its IP) when it returns. */
async function defineOnTarget(move: CrossMove, record: MoveRecord): Promise<Observed<Spec>> {
  const { target, next, journal, ctx } = move;
  const importedDisks: Record<string, DiskLocation> = {};
  for (const [slot, disk] of Object.entries(record.imported)) {
    if (!disk.location) throw new Error(`disks.${slot}: the import did not finish`);
    importedDisks[slot] = disk.location;
  }
  ctx.progress(`defining the VM on "${target.host}" with its ${Object.keys(importedDisks).length} moved disk(s)`);
  let made: Observed<Spec>;
  try {
    made = await target.vms.create(next, { ...ctx, importedDisks });
  } catch (error) {
    if (error instanceof PartialCreateError) {
      record.targetVmId = error.id;
      await journal.write(record);
    }
    throw error;
  }
  record.targetVmId = made.id;
  await journal.write(record);
  return settleTarget(move, record, made);
}

/** The target VM in the power state the spec asks for; a VM made by an interrupted run is converged first. */
async function settleTarget(move: CrossMove, record: MoveRecord, made: Observed<Spec>): Promise<Observed<Spec>> {
  const { target, next, ctx } = move;
  let vm = made;
  if (vm.spec.powerState !== next.powerState) {
    const plan = classifyChange("VirtualMachine", vm.spec, next, target.caps);
    vm = await target.vms.update(vm.id, vm.spec, next, plan, ctx);
  }
  if (vm.spec.powerState !== next.powerState) {
    throw new Error(`the VM on "${target.host}" is ${vm.spec.powerState}, not ${next.powerState} as the spec asks`);
  }
  record.targetVmId = vm.id;
  ctx.progress(`the VM ${next.powerState === "running" ? "runs" : `is ${next.powerState}`} on "${target.host}" (${vm.id})`);
  return vm;
}

/** The target runs: now, and only now, the source VM and its disks go. */
async function finish(move: CrossMove, record: MoveRecord, running: Observed<Spec>): Promise<Observed<Spec>> {
  const { id, old, source, target, next, journal, ctx } = move;
  record.phase = "removing-source";
  await journal.write(record);
  ctx.progress(`removing the source VM and its disks from "${source.host}"`);
  await source.vms.delete(id, old, ctx);
  ctx.progress(`source removed; the move from "${source.host}" to "${target.host}" is complete`);
  await journal.clear();
  return { ...running, spec: { ...running.spec, host: next.host } };
}

/**
 * Everything the move made on the target goes, and the source runs again if it ran before.
 * Returns the error to throw: the cause, and what the undo did or could not do. When the undo
 * is incomplete the journal stays, so the next run removes the rest before trying again.
 */
async function undo(move: CrossMove, record: MoveRecord, cause: unknown): Promise<Error> {
  const { id, old, source, target, next, journal, ctx } = move;
  ctx.progress(`the move failed (${messageOf(cause)}); undoing it`);
  await rm(journal.workDir, { recursive: true, force: true }).catch(() => undefined);
  const problems: string[] = [];
  try {
    const vmId = record.targetVmId ?? (record.phase === "defining" ? (await target.vms.find(next))?.id : undefined);
    if (vmId) {
      await target.vms.delete(vmId, next, ctx);
      ctx.progress(`removed the partial VM ${vmId} from "${target.host}"`);
    }
    record.targetVmId = undefined;
  } catch (error) {
    problems.push(`the partial VM on "${target.host}" could not be removed: ${messageOf(error)}`);
  }
  if (problems.length === 0) {
    try {
      await removeImported(move, record);
    } catch (error) {
      problems.push(`moved disks on "${target.host}" could not be removed: ${messageOf(error)}`);
    }
  }
  let restarted = "";
  if (record.sourceWasRunning) {
    try {
      const now = await source.vms.read(id, old);
      if (now && now.spec.powerState !== "running") await setPower(source, id, now.spec, "running", ctx);
      restarted = " and running again";
      ctx.progress(`the VM runs again on "${source.host}"`);
    } catch (error) {
      problems.push(`the VM on "${source.host}" could not be started again: ${messageOf(error)}`);
    }
  }
  if (problems.length === 0) await journal.clear();
  else await journal.write(record).catch(() => undefined);
  const state = `the VM stays on "${source.host}"${restarted}, with its disks`;
  const leftover = problems.length === 0 ? `; nothing of it is left on "${target.host}"` : `; ${problems.join("; ")} (the next up retries that, ${journal.where})`;
  return new Error(`host: the move of VM "${old.name}" from "${source.host}" to "${target.host}" failed: ${messageOf(cause)}; ${state}${leftover}`, { cause });
}

/** Removes the disks the record says this move imported; a disk whose import was cut short is found by name. */
async function removeImported(move: CrossMove, record: MoveRecord): Promise<void> {
  const { target, journal, ctx } = move;
  for (const [slot, disk] of Object.entries(record.imported)) {
    const location = disk.location ?? (await target.support.locateDisk(disk.pool, disk.name));
    if (location) {
      await target.disks.removeDisk(location);
      ctx.progress(`disks.${slot}: removed ${location.address} from "${target.host}"`);
    }
    delete record.imported[slot];
    await journal.write(record);
  }
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0);
}

function short(sha: string): string {
  return sha.slice(0, 12);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
