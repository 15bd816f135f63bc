import { moveAcrossHypervisors, type MoveSide } from "../core/cross-move-task";
import type { Observed, OperationContext } from "../core/driver";
import { hostEntry } from "../core/hosts";
import type { VirtualMachineSpec } from "../core/model";
import { capabilitiesOf, openDriver } from "../drivers/registry";
import { currentHosts } from "./hosts";
import { fileMoveJournal } from "./move-journal";

type Spec = VirtualMachineSpec;

/**
 * The Pulumi side of a cross-hypervisor move: opens both hosts' drivers and hands them to the
 * executor (core/cross-move-task.ts) with a journal file (move-journal.ts). It throws on any
 * failure, so Pulumi keeps the state it had: the VM on the source host.
 */
export async function moveVmAcrossKinds(id: string, old: Spec, next: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
  const [source, target] = await Promise.all([sideOf(old.host), sideOf(next.host)]);
  return moveAcrossHypervisors({ id, old, next, source, target, journal: fileMoveJournal(old.host, id), ctx });
}

/**
 * Refresh of a VM whose move finished on the target while the run that did it died before
 * Pulumi recorded it: the journal names the VM on the target, which is where it now is.
 */
export async function movedByInterruptedRun(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
  const journal = fileMoveJournal(last.host, id);
  const record = await journal.read();
  if (!record?.targetVmId) return undefined;
  const target = await sideOf(record.targetHost);
  const found = await target.vms.read(record.targetVmId, { ...last, host: record.targetHost });
  if (!found) return undefined;
  // The source is gone and the target holds the VM: the move is complete, its record is not needed.
  await journal.clear();
  return { ...found, spec: { ...found.spec, host: record.targetHost } };
}

async function sideOf(host: string): Promise<MoveSide> {
  const config = hostEntry(currentHosts(), host);
  if (!config) throw new Error(`host "${host}" is not in the stack config novacron:hosts`);
  const caps = capabilitiesOf(config.driver);
  const driver = await openDriver(host, config);
  const vms = driver.resource("VirtualMachine");
  const disks = driver.diskTransfer?.();
  const support = driver.crossMove?.();
  if (!vms || !disks || !support) throw new Error(`host "${host}": the ${caps.product} driver has no disk data path for a cross-hypervisor move`);
  return { host, caps, vms, disks, support };
}
