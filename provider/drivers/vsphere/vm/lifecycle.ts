// Create, find, reconfigure and destroy. Create refuses an existing name with
// DuplicateNameError up front (vCenter would, the simulator reports a file
// clash instead); the caller decides whether that means "adopt".
import {
  DuplicateNameError,
  findChild,
  getProperties,
  ManagedObjectNotFoundError,
  moref,
  runTask,
  toXmlValue,
  type MoRef,
  type VimClient,
  type WaitOptions,
  type XNode,
} from "../soap";
import { createConfigSpec } from "./config-spec";
import { ownsFile, reconfigureSpec } from "./reconfigure-spec";
import type { Placement } from "./placement";
import { SHUTDOWN_FIELDS, shutdownGuest, type ShutdownOptions } from "./power";
import { parseVm } from "./read";
import type { VmSpec } from "./spec";

export async function findVm(client: VimClient, folder: MoRef, name: string): Promise<MoRef | undefined> {
  return findChild(client, folder, name);
}

export async function createVm(client: VimClient, placement: Placement, spec: VmSpec, options?: WaitOptions): Promise<MoRef> {
  const existing = await findVm(client, placement.folder, spec.name);
  if (existing) {
    throw new DuplicateNameError("DuplicateName", `a VM named "${spec.name}" already exists (${existing.value})`, undefined);
  }
  const result = await runTask(
    client,
    "CreateVM_Task",
    placement.folder,
    { config: createConfigSpec(spec, placement.datastoreName), pool: placement.pool, host: placement.host },
    options,
  );
  const ref = moref(result);
  if (!ref) throw new Error(`CreateVM_Task for ${spec.name} returned no VM`);
  // CD-ROM drives go on the IDE controllers vCenter gives every new VM, and the boot order names
  // devices by the keys vCenter gave them: both are set once the VM exists.
  if (Object.keys(spec.cdroms ?? {}).length > 0 || (spec.bootOrder ?? []).length > 0) await reconfigureVm(client, ref, spec, options);
  return ref;
}

/**
 * Brings the VM's configuration to `desired` with one ReconfigVM_Task carrying
 * only the differences. Returns false when nothing had to change.
 */
export async function reconfigureVm(client: VimClient, vm: MoRef, desired: VmSpec, options?: WaitOptions): Promise<boolean> {
  // Only "config": the runtime/snapshot properties readVm adds cost a third more
  // server time and play no part in computing the change.
  const current = parseVm(vm, (await getProperties(client, vm, ["config"])).props);
  const spec = reconfigureSpec(current, desired, current.homeDatastore);
  if (!spec) return false;
  await runTask(client, "ReconfigVM_Task", vm, { spec }, options);
  // A device added just now has its key only now: a boot order naming it is set in a second pass.
  if ((desired.bootOrder ?? []).length > 0) {
    const after = parseVm(vm, (await getProperties(client, vm, ["config"])).props);
    const rest = reconfigureSpec(after, desired, after.homeDatastore);
    if (rest) await runTask(client, "ReconfigVM_Task", vm, { spec: rest }, options);
  }
  return true;
}

export interface DestroyOptions extends ShutdownOptions, WaitOptions {}

export interface DestroyOutcome {
  /** False when the VM was already gone: deletes must be repeatable. */
  readonly existed: boolean;
  /** How it stopped: through the guest, by power-off, or it was not running. */
  readonly shutdown?: "guest" | "forced" | "already";
}

/**
 * Shuts the guest down gracefully where VMware Tools run (hard power-off
 * otherwise, or after the shutdown timeout), then deletes the VM and its disks.
 */
export async function destroyVm(client: VimClient, vm: MoRef, options: DestroyOptions = {}): Promise<DestroyOutcome> {
  try {
    // One read serves both the shutdown decision and the disk check.
    const { props } = await getProperties(client, vm, [...SHUTDOWN_FIELDS, "config"]);
    const shutdown = await shutdownGuest(client, vm, options, props);
    await detachForeignDisks(client, vm, props, options);
    await runTask(client, "Destroy_Task", vm, {}, options);
    return { existed: true, shutdown };
  } catch (err) {
    if (err instanceof ManagedObjectNotFoundError) return { existed: false };
    throw err;
  }
}

/** Destroy_Task deletes every attached disk: ones living outside the VM's folder (attached volumes) are detached first. */
async function detachForeignDisks(client: VimClient, vm: MoRef, props: ReadonlyMap<string, XNode>, options?: WaitOptions): Promise<void> {
  const current = parseVm(vm, props);
  const foreign = current.devices.disks.filter((d) => !ownsFile(current, d.fileName));
  if (foreign.length === 0) return;
  const deviceChange = foreign.map((d) => ({ operation: "remove", device: toXmlValue(d.raw) }));
  await runTask(client, "ReconfigVM_Task", vm, { spec: { deviceChange } }, options);
}
