// Moving and copying VMs: RelocateVM_Task is vMotion when only the host/pool
// changes and storage vMotion when the datastore does (or both at once).
// Clones come from templates; a template is a VM marked as such.
import { moref, runTask, type MoRef, type VimClient, type WaitOptions, type XmlObject } from "../soap";
import type { Placement } from "./placement";
import { powerOn } from "./power";

export interface RelocateTarget {
  readonly host?: MoRef;
  readonly pool?: MoRef;
  readonly datastore?: MoRef;
  readonly folder?: MoRef;
}

function relocateSpec(t: RelocateTarget): XmlObject {
  // Schema order: folder, datastore, pool, host.
  return { folder: t.folder, datastore: t.datastore, pool: t.pool, host: t.host };
}

export async function relocateVm(client: VimClient, vm: MoRef, target: RelocateTarget, options?: WaitOptions): Promise<void> {
  if (!target.host && !target.pool && !target.datastore && !target.folder) return;
  await runTask(client, "RelocateVM_Task", vm, { spec: relocateSpec(target), priority: "defaultPriority" }, options);
}

export async function markAsTemplate(client: VimClient, vm: MoRef): Promise<void> {
  await client.invoke("MarkAsTemplate", vm);
}

export async function markAsVirtualMachine(client: VimClient, template: MoRef, pool: MoRef, host?: MoRef): Promise<void> {
  await client.invoke("MarkAsVirtualMachine", template, { pool, host });
}

export interface CloneOptions extends WaitOptions {
  readonly powerOn?: boolean;
  /** Make the clone a template itself. */
  readonly template?: boolean;
  /** Clone from this snapshot of the source instead of its current state. */
  readonly snapshot?: MoRef;
}

export async function cloneVm(client: VimClient, source: MoRef, placement: Placement, name: string, options: CloneOptions = {}): Promise<MoRef> {
  const spec: XmlObject = {
    location: relocateSpec({ datastore: placement.datastore, pool: placement.pool, host: placement.host }),
    template: options.template ?? false,
    powerOn: options.powerOn ?? false,
    snapshot: options.snapshot,
  };
  const result = await runTask(client, "CloneVM_Task", source, { folder: placement.folder, name, spec }, options);
  const ref = moref(result);
  if (!ref) throw new Error(`CloneVM_Task of ${source.value} returned no VM`);
  // Some servers (the simulator among them) ignore spec.powerOn; powerOn() is a
  // no-op when the clone already runs.
  if (options.powerOn && !options.template) await powerOn(client, ref, options);
  return ref;
}
