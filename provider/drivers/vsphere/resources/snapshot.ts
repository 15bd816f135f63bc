import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { SnapshotSpec } from "../../../core/model";
import { ManagedObjectNotFoundError, MoRef, type VimClient } from "../soap";
import type { VsphereSession } from "../session";
import { createSnapshot, readVm, removeSnapshot, type SnapshotInfo, type VmState } from "../vm";
import { vmRef } from "./vm";
import { taskOptions } from "./vm-power";

/**
 * Snapshots of a VM (`vm` is the VirtualMachine id). The id is the snapshot's
 * managed object id: vSphere allows two snapshots of one name, so names
 * cannot identify them.
 */
export class VsphereSnapshotResource implements ResourceDriver<SnapshotSpec> {
  constructor(private readonly session: VsphereSession) {}

  async find(spec: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const vm = await this.vm(spec.vm);
    const found = vm?.snapshots.find((s) => s.name === spec.name);
    // Snapshots carry no mark of their own: one is taken to be ours when its VM is.
    return found ? observed(found, spec, vm?.spec.owner !== undefined) : undefined;
  }

  async create(spec: SnapshotSpec, ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const client = await this.session.client();
    ctx.progress(`taking snapshot${spec.memory ? " with memory" : ""}${spec.quiesce ? ", guest quiesced" : ""}`);
    const ref = await createSnapshot(client, vmRef(spec.vm), spec, taskOptions(ctx));
    const info = (await this.snapshots(spec.vm))?.find((s) => s.ref.equals(ref));
    if (!info) throw new Error(`snapshot "${spec.name}" of VM ${spec.vm} was taken (${ref.value}) but is not in the VM's snapshot tree`);
    return observed(info, spec, true);
  }

  async read(id: string, last: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const found = (await this.snapshots(last.vm))?.find((s) => s.ref.value === id);
    return found ? observed(found, last, true) : undefined;
  }

  async update(id: string, _old: SnapshotSpec, next: SnapshotSpec, _plan: ChangePlan, _ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const found = await this.read(id, next);
    if (!found) throw new Error(`snapshot ${id} of VM ${next.vm} is gone`);
    if (found.spec.description === next.description) return found;
    const client = await this.session.client();
    await client.invoke("RenameSnapshot", snapshotRef(id), { description: next.description });
    return { ...found, spec: { ...found.spec, description: next.description } };
  }

  async delete(id: string, _spec: SnapshotSpec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    await tolerateGone(removeSnapshot(client, snapshotRef(id), { removeChildren: false, consolidate: true }, taskOptions(ctx)));
  }

  private async snapshots(vm: string): Promise<readonly SnapshotInfo[] | undefined> {
    return (await this.vm(vm))?.snapshots;
  }

  /** The VM, or undefined when it is gone. */
  private async vm(id: string): Promise<VmState | undefined> {
    const client: VimClient = await this.session.client();
    try {
      return await readVm(client, vmRef(id));
    } catch (error) {
      if (error instanceof ManagedObjectNotFoundError) return undefined;
      throw error;
    }
  }
}

function snapshotRef(id: string): MoRef {
  return new MoRef("VirtualMachineSnapshot", id);
}

function observed(info: SnapshotInfo, last: SnapshotSpec, owned: boolean): Observed<SnapshotSpec> {
  return { id: info.ref.value, spec: { ...last, name: info.name, description: info.description }, owned, outputs: { state: "ready" } };
}

async function tolerateGone(step: Promise<unknown>): Promise<void> {
  try {
    await step;
  } catch (error) {
    if (!(error instanceof ManagedObjectNotFoundError)) throw error;
  }
}
