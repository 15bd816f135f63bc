// Snapshots as code: create with the memory/quiesce choice explicit, remove by
// reference (names are not unique in vSphere).
import { moref, runTask, type MoRef, type VimClient, type WaitOptions } from "../soap";

export interface SnapshotSpec {
  readonly name: string;
  readonly description?: string;
  /** Include the running VM's memory, so a revert resumes it. */
  readonly memory: boolean;
  /** Quiesce the guest file systems through VMware Tools first. */
  readonly quiesce: boolean;
}

export async function createSnapshot(client: VimClient, vm: MoRef, spec: SnapshotSpec, options?: WaitOptions): Promise<MoRef> {
  const result = await runTask(client, "CreateSnapshot_Task", vm, { name: spec.name, description: spec.description ?? "", memory: spec.memory, quiesce: spec.quiesce }, options);
  const ref = moref(result);
  if (!ref) throw new Error(`CreateSnapshot_Task on ${vm.value} returned no snapshot`);
  return ref;
}

export async function removeSnapshot(
  client: VimClient,
  snapshot: MoRef,
  opts: { readonly removeChildren?: boolean; readonly consolidate?: boolean } = {},
  options?: WaitOptions,
): Promise<void> {
  await runTask(client, "RemoveSnapshot_Task", snapshot, { removeChildren: opts.removeChildren ?? false, consolidate: opts.consolidate ?? true }, options);
}

export async function revertToSnapshot(client: VimClient, snapshot: MoRef, options?: WaitOptions): Promise<void> {
  await runTask(client, "RevertToSnapshot_Task", snapshot, {}, options);
}
