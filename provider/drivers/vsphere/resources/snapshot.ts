import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { SnapshotSpec } from "../../../core/model";
import { children, getProperties, ManagedObjectNotFoundError, MoRef, runTask, type VimClient } from "../soap";
import { option } from "../vm/config-spec";
import { parseExtraConfig } from "../vm/devices";
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

  /**
   * Snapshots carry no mark of their own, and a VM being NovaCron's says nothing about who
   * took a snapshot of it. The mark is an extraConfig entry of the VM naming the snapshot:
   * "pending" while it is taken, then its object id. A snapshot of that name without the
   * entry (an administrator's) is not ours; one with "pending" is our interrupted create.
   */
  async find(spec: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const vm = await this.vm(spec.vm);
    const found = vm?.snapshots.find((s) => s.name === spec.name);
    if (!found) return undefined;
    const mark = (await this.marks(spec.vm)).get(markKey(spec.name));
    return observed(found, spec, mark === PENDING || mark === found.ref.value);
  }

  async create(spec: SnapshotSpec, ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const client = await this.session.client();
    await this.setMark(client, spec.vm, spec.name, PENDING, ctx);
    ctx.progress(`taking snapshot${spec.memory ? " with memory" : ""}${spec.quiesce ? ", guest quiesced" : ""}`);
    const ref = await createSnapshot(client, vmRef(spec.vm), spec, taskOptions(ctx));
    await this.setMark(client, spec.vm, spec.name, ref.value, ctx);
    const info = (await this.snapshots(spec.vm))?.find((s) => s.ref.equals(ref));
    if (!info) throw new Error(`snapshot "${spec.name}" of VM ${spec.vm} was taken (${ref.value}) but is not in the VM's snapshot tree`);
    return observed(info, spec, true);
  }

  async read(id: string, last: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const found = (await this.snapshots(last.vm))?.find((s) => s.ref.value === id);
    return found ? observed(found, last, (await this.marks(last.vm)).get(markKey(found.name)) === id) : undefined;
  }

  async update(id: string, _old: SnapshotSpec, next: SnapshotSpec, _plan: ChangePlan, _ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const found = await this.read(id, next);
    if (!found) throw new Error(`snapshot ${id} of VM ${next.vm} is gone`);
    if (found.spec.description === next.description) return found;
    const client = await this.session.client();
    await client.invoke("RenameSnapshot", snapshotRef(id), { description: next.description });
    return { ...found, spec: { ...found.spec, description: next.description } };
  }

  async delete(id: string, spec: SnapshotSpec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    await tolerateGone(removeSnapshot(client, snapshotRef(id), { removeChildren: false, consolidate: true }, taskOptions(ctx)));
    // Our mark goes with it; the mark of a later snapshot of the same name is not ours to clear.
    const marks = await this.marks(spec.vm).catch(() => new Map<string, string>());
    if (marks.get(markKey(spec.name)) === id) await tolerateGone(this.setMark(client, spec.vm, spec.name, "", ctx));
  }

  /** The VM's extraConfig entries (empty when the VM is gone). */
  private async marks(vm: string): Promise<Map<string, string>> {
    const client = await this.session.client();
    try {
      const config = (await getProperties(client, vmRef(vm), ["config.extraConfig"])).props.get("config.extraConfig");
      return parseExtraConfig(children(config, "OptionValue"));
    } catch (error) {
      if (error instanceof ManagedObjectNotFoundError) return new Map();
      throw error;
    }
  }

  /** Sets (or with "" removes: vSphere deletes a key given an empty value) the snapshot's mark on its VM. */
  private async setMark(client: VimClient, vm: string, name: string, value: string, ctx: OperationContext): Promise<void> {
    await runTask(client, "ReconfigVM_Task", vmRef(vm), { spec: { extraConfig: [option(markKey(name), value)] } }, taskOptions(ctx));
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

/** extraConfig key of the mark NovaCron keeps on a VM for a snapshot it took. */
const MARK_PREFIX = "novacron.snapshot.";
const PENDING = "pending";
function markKey(name: string): string {
  return MARK_PREFIX + name;
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
