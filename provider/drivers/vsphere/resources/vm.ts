import { posix } from "node:path";
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ReadContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { VirtualMachineSpec } from "../../../core/model";
import { ManagedObjectNotFoundError, MoRef, type VimClient } from "../soap";
import { homeDatastore, keptCoresPerSocket, observedSpec, toVmSpec, VMDK_PATH } from "../translate";
import type { VsphereSession } from "../session";
import { createVm, destroyVm, findVm, readVmDetails, reconfigureVm, UnsupportedChangeError, type NetworkBinding, type VmSpec } from "../vm";
import { resolveVmPassthrough } from "./passthrough";
import { migrateThenUpdate } from "./vm-migrate";
import { entryOfMovedVm } from "./vm-moved";
import { applyPowerState, powerOffReason, stop, taskOptions, waitForIp } from "./vm-power";

type Spec = VirtualMachineSpec;

/**
 * VMs on vSphere. The id is the VM's managed object id (`vm-42`): what every
 * vim25 call addresses, and stable across vMotion within one vCenter.
 */
export class VsphereVmResource implements ResourceDriver<Spec> {
  constructor(readonly session: VsphereSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.client();
    const ref = await findVm(client, await this.session.folder(), spec.name);
    return ref ? this.observe(client, ref, spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.client();
    // Everything is resolved before CreateVM: a spec that cannot be built leaves nothing behind.
    const desired = withImportedDisks(await this.desired(spec), ctx.importedDisks);
    const placement = await this.session.placement(homeDatastore(spec, this.session.config.datastore));
    ctx.progress(`creating on ${placement.host ? `host ${this.session.config.host}` : "the cluster"}, datastore ${placement.datastoreName}`);
    const ref = await createVm(client, placement, desired, taskOptions(ctx));
    ctx.progress(`created (${ref.value})`);
    try {
      await applyPowerState(client, ref, spec, ctx);
      return await this.observeWithIp(client, ref, spec, ctx);
    } catch (error) {
      const observed = await this.observe(client, ref, spec).catch(() => undefined);
      throw new PartialCreateError(ref.value, observed?.outputs ?? {}, `VM "${spec.name}" was created but not finished: ${message(error)}`);
    }
  }

  /** With the host entries (a refresh), a VM vMotioned outside Pulumi reports the entry pinning its new host (vm-moved.ts). */
  async read(id: string, last: Spec, ctx?: ReadContext): Promise<Observed<Spec> | undefined> {
    const client = await this.session.client();
    try {
      const observed = await this.observe(client, vmRef(id), last);
      const movedTo = ctx ? await entryOfMovedVm(this.session, client, vmRef(id), ctx.hosts) : undefined;
      return movedTo === undefined ? observed : { ...observed, spec: { ...observed.spec, host: movedTo } };
    } catch (error) {
      if (error instanceof ManagedObjectNotFoundError) return undefined;
      throw error;
    }
  }

  async update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    if (old.host !== next.host) return migrateThenUpdate(this, id, old, next, plan, ctx);
    const client = await this.session.client();
    const ref = vmRef(id);
    const current = await readVmDetails(client, ref);
    const wanted = await this.desired(next);
    const desired = { ...wanted, numCoresPerSocket: keptCoresPerSocket(current.spec, wanted) };
    const why = current.state.powerState === "poweredOn" ? powerOffReason(current.spec, desired) : undefined;
    if (why) {
      if (!next.updatePolicy.allowReboot && next.powerState === "running") {
        throw new Error(`VM "${next.name}": ${why}, and updatePolicy.allowReboot is false; allow it, or set powerState "stopped" first`);
      }
      ctx.progress(`powering off to apply: ${why}`);
      await stop(client, ref, next, ctx);
    }
    try {
      if (await reconfigureVm(client, ref, desired, taskOptions(ctx))) ctx.progress("reconfigured");
    } catch (error) {
      if (error instanceof UnsupportedChangeError) throw new Error(`VM "${next.name}": ${error.message}; remove the slot and add a new one instead`);
      throw error;
    }
    await applyPowerState(client, ref, next, ctx);
    return this.observeWithIp(client, ref, next, ctx);
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    const ref = vmRef(id);
    try {
      // Stopped here rather than by destroyVm: its shutdown timeout and task deadline are one option.
      await stop(client, ref, spec, ctx);
    } catch (error) {
      if (!(error instanceof ManagedObjectNotFoundError)) throw error;
    }
    const outcome = await destroyVm(client, ref, taskOptions(ctx));
    ctx.progress(outcome.existed ? "destroyed" : "already gone");
  }

  /** The spec as vSphere wants it; NIC portgroups resolved by name, passthrough devices on the pinned host. */
  private async desired(spec: Spec): Promise<VmSpec> {
    const networks: Record<string, NetworkBinding> = {};
    for (const [slot, nic] of Object.entries(spec.nics)) {
      if (nic.network) networks[slot] = await this.session.network(nic.network);
    }
    const passthrough = await resolveVmPassthrough(this.session, await this.session.client(), spec);
    return toVmSpec(spec, networks, passthrough);
  }

  private async observeWithIp(client: VimClient, ref: MoRef, spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const observed = await this.observe(client, ref, spec);
    if (spec.waitForIp && spec.powerState === "running" && observed.outputs.ipAddress === undefined) {
      observed.outputs.ipAddress = await waitForIp(client, ref, spec.waitForIp.timeoutSeconds, ctx);
    }
    return observed;
  }

  private async observe(client: VimClient, ref: MoRef, last: Spec): Promise<Observed<Spec>> {
    const details = await readVmDetails(client, ref);
    const names = new Map<string, string>();
    for (const [slot, nic] of Object.entries(details.state.spec.nics)) {
      names.set(slot, await this.networkName(last.nics[slot]?.network, nic.network));
    }
    const spec = observedSpec(details.state, last, details.homeDatastore, (slot, b) => names.get(slot) ?? bindingName(b));
    const state = details.state;
    return {
      id: ref.value,
      spec,
      owned: state.spec.owner !== undefined,
      outputs: {
        state: spec.powerState,
        uuid: state.instanceUuid,
        macAddresses: { ...state.macAddresses },
        ipAddress: state.ipAddress,
        unmanaged: (state.unmanaged ?? []).filter((u) => spec.cdroms === undefined || !u.endsWith("(VirtualCdrom)")),
      },
    };
  }

  /** The name the spec used when it still resolves to this backing, so a refresh shows no change. */
  private async networkName(recorded: string | undefined, binding: NetworkBinding): Promise<string> {
    if (recorded !== undefined) {
      const resolved = await this.session.network(recorded).catch(() => undefined);
      if (resolved && sameBinding(resolved, binding)) return recorded;
    }
    return bindingName(binding);
  }
}

/**
 * A cross-hypervisor move hands over the disks it imported into the VM's folder: those slots
 * attach the file, with the size the guest sees, instead of creating a blank disk.
 */
function withImportedDisks(desired: VmSpec, imported: OperationContext["importedDisks"]): VmSpec {
  if (!imported || Object.keys(imported).length === 0) return desired;
  const disks = { ...desired.disks };
  for (const [slot, disk] of Object.entries(imported)) disks[slot] = { sizeGiB: disk.virtualSize / 1024 ** 3, file: disk.address };
  // Their folder becomes the VM's, so the VM's destroy deletes them as disks it made.
  const first = VMDK_PATH.exec(Object.values(imported)[0]!.address);
  const folder = first ? posix.dirname(first[0].slice(first[0].indexOf("]") + 1).trim()) : undefined;
  return { ...desired, disks, ...(folder && folder !== "." ? { folder } : {}) };
}

export function vmRef(id: string): MoRef {
  return new MoRef("VirtualMachine", id);
}

function sameBinding(a: NetworkBinding, b: NetworkBinding): boolean {
  if (a.kind === "standard" && b.kind === "standard") return a.network.value === b.network.value;
  if (a.kind === "distributed" && b.kind === "distributed") return a.portgroupKey === b.portgroupKey;
  return false;
}

function bindingName(b: NetworkBinding): string {
  return b.kind === "standard" ? b.name : `dvportgroup:${b.portgroupKey}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
