import type { ChangePlan } from "../../../core/classify";
import { needsRestart } from "../../../core/disruption";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, PartialCreateError, showValue } from "../../../core/errors";
import type { VirtualMachineSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";
import { destroyGuest } from "../api/destroy-guest";
import { claimVmId } from "../vm/claim-id";
import { cloudInitChanged } from "../vm/cloud-init";
import { cloneTemplate } from "../vm/clone";
import { isOwned } from "../vm/marker";
import { migrateVm, moveDisk, nodeOf } from "../vm/migrate";
import { Guest, type GuestStatus } from "../vm/power";
import { restoreParams } from "../vm/restore";
import { createParams, efiStorage, specFromConfig, updateParams, vmProblems, type PveConfig } from "../vm/translate";

type Spec = VirtualMachineSpec;

/**
 * QEMU VMs on one Proxmox VE node. The id is the VM id (`vmid`), as every qemu-server path
 * addresses it. Only VMs with NovaCron's tag are adopted, changed or destroyed.
 */
export class ProxmoxVmResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const vms = await this.client.get<{ vmid: number; name?: string; node: string; tags?: string; type: string }[]>("/cluster/resources", { type: "vm" });
    // PVE allows two VMs of one name: NovaCron's (tagged) one is the one to adopt.
    const named = vms.filter((v) => v.type === "qemu" && v.node === this.node && v.name === spec.name);
    const hit = named.find((v) => isOwned(v.tags)) ?? named[0];
    if (!hit) return undefined;
    const observed = await this.observe(new Guest(this.client, this.node, Number(hit.vmid)), spec);
    return observed ?? undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    refuseProblems(spec);
    if (spec.cloneFrom) return this.createClone(spec, spec.cloneFrom, ctx);
    if (spec.restoreFrom !== undefined) return this.createRestore(spec, spec.restoreFrom, ctx);
    const { params, origin } = createParams(spec);
    // PVE starts the VM at the end of the create task itself: one task instead of two.
    const start: Record<string, number> = spec.powerState === "running" ? { start: 1 } : {};
    const { vmid, upid } = await claimVmId(
      this.client,
      this.node,
      spec.name,
      (id) => this.client.post<string>(`/nodes/${this.node}/qemu`, { vmid: id, ...params, ...start }),
      ctx,
      (error) => fieldErrors(error, params, origin),
    );
    // From here the VM exists under this id: whatever fails, it is handed back for the state.
    const guest = new Guest(this.client, this.node, vmid);
    ctx.progress(`creating VM ${vmid} on node ${this.node}`);
    try {
      if (upid) await waitForTask(this.client, upid, ctx);
      // Created with start=1 when it should run (the task ends OK only once it runs); paused still needs its suspend.
      const reached: GuestStatus =
        spec.powerState === "paused" || !upid
          ? await guest.converge(spec, ctx)
          : { status: spec.powerState === "running" ? "running" : "stopped", qmpstatus: spec.powerState === "running" ? "running" : "stopped" };
      return (await this.observe(guest, spec, reached))!;
    } catch (error) {
      throw await this.handBack(guest, spec, error);
    }
  }

  /** A clone of the template, then this spec's settings written over the copy, its disks grown, its power state reached. */
  private async createClone(spec: Spec, from: NonNullable<Spec["cloneFrom"]>, ctx: OperationContext): Promise<Observed<Spec>> {
    let vmid: number | undefined;
    try {
      await cloneTemplate(this.client, this.node, spec.name, from, ctx, (id) => {
        vmid = id;
      });
    } catch (error) {
      if (vmid === undefined) throw error;
      throw await this.handBack(new Guest(this.client, this.node, vmid), spec, error);
    }
    const guest = new Guest(this.client, this.node, vmid!);
    try {
      ctx.progress(`VM ${vmid} cloned; applying its settings`);
      await retryWhileLocked(`settings of cloned VM ${vmid}`, () => this.writeConfigFresh(guest, spec, spec, ctx, true), ctx.deadline, ctx.progress);
      const reached = await guest.converge(spec, ctx);
      return (await this.observe(guest, spec, reached))!;
    } catch (error) {
      throw await this.handBack(guest, spec, error);
    }
  }

  /**
   * A restore of a vzdump archive (PVE's create call with `archive`), then, as for a clone, this
   * spec's settings written over what the archive brought, its disks grown, its power state
   * reached. The id is taken by the restore call itself, so a failure after it hands the VM back.
   */
  private async createRestore(spec: Spec, archive: string, ctx: OperationContext): Promise<Observed<Spec>> {
    const params = restoreParams(spec, efiStorage(spec));
    const origin: Record<string, string> = { archive: "restoreFrom", storage: "disks", unique: "restoreFrom", name: "name", tags: "labels", description: "labels" };
    ctx.progress(`restoring VM "${spec.name}" from ${archive}${params.storage ? ` onto storage ${params.storage}` : ""}`);
    const { vmid, upid } = await claimVmId(
      this.client,
      this.node,
      spec.name,
      (id) => this.client.post<string>(`/nodes/${this.node}/qemu`, { vmid: id, ...params }),
      ctx,
      (error) => restoreRefused(error, spec.name, params, origin),
    );
    const guest = new Guest(this.client, this.node, vmid);
    try {
      if (upid) await waitForTask(this.client, upid, ctx);
      ctx.progress(`VM ${vmid} restored; applying its settings`);
      await retryWhileLocked(`settings of restored VM ${vmid}`, () => this.writeConfigFresh(guest, spec, spec, ctx, true), ctx.deadline, ctx.progress);
      const reached = await guest.converge(spec, ctx);
      return (await this.observe(guest, spec, reached))!;
    } catch (error) {
      throw await this.handBack(guest, spec, error);
    }
  }

  /**
   * The error of a create that failed after its id was taken, with the VM handed back for the
   * state when it exists, or when it cannot be told (the connection broke): a VM left unrecorded
   * would be leaked, an id recorded for a VM that is gone is dropped by the next refresh.
   */
  private async handBack(guest: Guest, spec: Spec, error: unknown): Promise<unknown> {
    let left: Observed<Spec> | undefined;
    try {
      left = await this.observe(guest, spec);
    } catch (lookup) {
      return new PartialCreateError(
        String(guest.vmid),
        { state: "unknown", macAddresses: {} },
        `VM "${spec.name}" (${guest.vmid}) may be half made: ${messageOf(error)}; and reading it back failed (${messageOf(lookup)}), so its id is kept for the next refresh`,
      );
    }
    if (!left) return error; // PVE removes a VM whose create task failed: nothing to record
    return new PartialCreateError(String(guest.vmid), left.outputs, `VM "${spec.name}" (${guest.vmid}) was created but not finished: ${messageOf(error)}`);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const observed = await this.observe(guestOf(this.client, this.node, id), last);
    // A VM id PVE gave to someone else after ours was deleted is not ours to track.
    return observed?.owned ? observed : undefined;
  }

  async update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    refuseProblems(next);
    if (old.host !== next.host) return this.moveToHost(id, old, next, plan, ctx);
    const guest = guestOf(this.client, this.node, id);
    // A change of NovaCron's own settings or the power state alone needs no config round trips.
    const configChanges = !sameConfig(old, next);
    if (configChanges) await retryWhileLocked(`update of VM ${id}`, () => this.writeConfigFresh(guest, old, next, ctx), ctx.deadline, ctx.progress);
    const [pending, status] = await Promise.all([configChanges ? this.pendingKeys(guest) : [], guest.status()]);
    // writeConfig checked the mark; a power-only change checks it here, before any power action.
    if (!configChanges && !(await this.ownedByStatus(guest, status))) {
      throw new Error(`VM ${id} does not carry NovaCron's tag; refusing to change the power state of a VM NovaCron did not make`);
    }
    let now: GuestStatus | undefined = status;
    if (status.status === "running" && pending.length > 0 && next.powerState === "running") {
      if (!next.updatePolicy.allowReboot) {
        throw new Error(
          `VM "${next.name}" (${id}): Proxmox VE keeps ${pending.join(", ")} pending until the VM restarts (its hotplug setting did not apply them live), ` +
            `and updatePolicy.allowReboot is false; the change is written and waits for the next restart. Allow the reboot, or restart the VM yourself`,
        );
      }
      ctx.progress(`rebooting VM ${id} to apply ${pending.join(", ")} (${plan.worst} change)`);
      await guest.action("reboot", ctx, { timeout: next.updatePolicy.shutdownTimeoutSeconds });
      now = undefined;
    }
    const reached = await guest.converge(next, ctx, now);
    const observed = await this.observe(guest, next, reached);
    if (!observed) throw new Error(`VM ${id} vanished during the update`);
    // The plan said live or hotplug, the server kept it pending and the VM was restarted: the
    // recorded class says what happened to the guest, not what was hoped for.
    if (now === undefined && !needsRestart(plan.worst)) observed.outputs.lastChangeClass = "reboot";
    return observed;
  }

  /**
   * A host change within one cluster is a migration, never a replace: the VM moves to the other
   * entry's node (online when it runs), then the rest of the change is applied there.
   */
  private async moveToHost(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const target = await ctx.connect(next.host);
    const targetNode = (target as { node?: unknown }).node;
    if (target.kind !== "proxmox" || typeof targetNode !== "string")
      throw new Error(`host: "${next.host}" is not a Proxmox VE host entry; a VM moves between nodes of one cluster`);
    const vmid = guestOf(this.client, this.node, id).vmid;
    const at = await nodeOf(this.client, vmid);
    if (at === undefined) throw new Error(`VM ${id} is not in the cluster of host "${old.host}" any more`);
    if (at !== targetNode) {
      const status = await new Guest(this.client, at, vmid).status();
      if (!(await this.ownedByStatus(new Guest(this.client, at, vmid), status)))
        throw new Error(`VM ${id} does not carry NovaCron's tag; refusing to migrate a VM NovaCron did not make`);
      await migrateVm(this.client, at, vmid, targetNode, status.status === "running", ctx);
    }
    // The rest of the change on the node the cluster lists the VM on now (after the task, the target).
    const now = (await nodeOf(this.client, vmid)) ?? targetNode;
    if (now !== targetNode) ctx.progress(`Proxmox VE reports the migration of VM ${id} done but lists it on node ${now}; the update follows it there`);
    return new ProxmoxVmResource(this.client, now).update(id, { ...old, host: next.host }, next, plan, ctx);
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const guest = guestOf(this.client, this.node, id);
    let status: GuestStatus;
    try {
      status = await guest.status();
    } catch (error) {
      if (error instanceof PveApiError && error.isMissingGuest) return ctx.progress(`VM ${id} is already gone`);
      throw error;
    }
    if (!(await this.ownedByStatus(guest, status))) {
      return ctx.progress(`VM ${id} (${status.name ?? ""}) does not carry NovaCron's tag: it is not the VM NovaCron made, so it is left in place`);
    }
    if (status.status === "running") await guest.shutdown(spec, ctx);
    await destroyGuest(this.client, guest.path, `VM ${id}`, ctx);
  }

  /**
   * Optimistic concurrency: a write whose digest went stale (someone edited the config between
   * our read and our write) is recomputed from a fresh read, so their edit is kept, not overwritten.
   */
  private async writeConfigFresh(guest: Guest, old: Spec, next: Spec, ctx: OperationContext, ours = false): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeConfig(guest, old, next, ours, ctx);
      } catch (error) {
        if (!(error instanceof PveApiError && error.isStaleDigest) || attempt >= 5) throw error;
        ctx.progress(`VM ${guest.vmid}'s config changed while it was being updated (${error.reason}); reading it again`);
      }
    }
  }

  /**
   * One config write with the digest read just before it, so a concurrent edit is never
   * overwritten. `ours`: a clone just made, which carries its template's tags, not NovaCron's yet.
   */
  private async writeConfig(guest: Guest, old: Spec, next: Spec, ours: boolean, ctx: OperationContext): Promise<void> {
    const current = await this.config(guest);
    if (!current) throw new Error(`VM ${guest.vmid} does not exist on node ${this.node} any more`);
    if (!ours && !isOwned(String(current.tags ?? ""))) throw new Error(`VM ${guest.vmid} does not carry NovaCron's tag; refusing to change a VM NovaCron did not make`);
    const change = updateParams(old, next, current);
    if (Object.keys(change.params).length > 0 || change.deletes.length > 0) {
      const body = { ...change.params, ...(change.deletes.length ? { delete: change.deletes.join(",") } : {}), digest: String(current.digest) };
      await this.client.put(`${guest.path}/config`, body).catch((error: unknown) => {
        throw error instanceof PveApiError && error.isStaleDigest ? error : fieldErrors(error, change.params, change.origin);
      });
    }
    // PVE rebuilds the cloud-init image from the config keys on request; it is read at the next boot.
    if (next.cloudInit && (ours || cloudInitChanged(old.cloudInit, next.cloudInit))) await this.client.put(`${guest.path}/cloudinit`);
    for (const [disk, storage] of Object.entries(change.moves)) await moveDisk(this.client, this.node, guest.vmid, disk, storage, ctx);
    for (const [disk, sizeGiB] of Object.entries(change.resizes)) {
      await this.client.put(`${guest.path}/resize`, { disk, size: `${sizeGiB}G` }).catch((error: unknown) => {
        throw fieldErrors(error, { [disk]: `${sizeGiB}G` }, { [disk]: `disks (${disk}).sizeGiB` });
      });
    }
  }

  /** The status carries the tags; without them (an older PVE, or a VM not ours) the config decides. */
  private async ownedByStatus(guest: Guest, status: GuestStatus): Promise<boolean> {
    const tags = status.tags ?? (await this.config(guest))?.tags;
    return isOwned(tags === undefined ? undefined : String(tags));
  }

  private async pendingKeys(guest: Guest): Promise<string[]> {
    const rows = await this.client.get<{ key: string; pending?: unknown; delete?: number }[]>(`${guest.path}/pending`);
    return rows.filter((r) => r.pending !== undefined || r.delete !== undefined).map((r) => r.key);
  }

  private async config(guest: Guest): Promise<PveConfig | undefined> {
    try {
      return await this.client.get<PveConfig>(`${guest.path}/config`);
    } catch (error) {
      if (error instanceof PveApiError && error.isMissingGuest) return undefined;
      throw error;
    }
  }

  /** The VM as PVE holds it; `known` is a status the caller just saw, saving a read. */
  private async observe(guest: Guest, last: Spec, known?: GuestStatus): Promise<Observed<Spec> | undefined> {
    const [config, status] = await Promise.all([this.config(guest), known ?? guest.status().catch(() => undefined)]);
    if (!config || !status) return undefined;
    const { spec, macs } = specFromConfig(config, status.status === "running" ? (status.qmpstatus ?? "running") : "stopped", last);
    const uuid = /uuid=([0-9a-f-]+)/i.exec(String(config.smbios1 ?? ""))?.[1];
    return {
      id: String(guest.vmid),
      spec,
      owned: isOwned(String(config.tags ?? "")),
      outputs: { state: spec.powerState, ...(uuid ? { uuid } : {}), macAddresses: macs },
    };
  }
}

/** Fields PVE's config does not hold: NovaCron's own settings and the power state. */
const NOT_IN_CONFIG = ["powerState", "updatePolicy", "waitForIp", "stateful"] as const;

function sameConfig(old: Spec, next: Spec): boolean {
  const strip = (s: Spec) => canonical({ ...s, ...Object.fromEntries(NOT_IN_CONFIG.map((k) => [k, undefined])) });
  return strip(old) === strip(next);
}

/** JSON with keys sorted at every level and unset fields dropped: equal specs, equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function guestOf(client: PveClient, node: string, id: string): Guest {
  if (!/^\d+$/.test(id)) throw new Error(`"${id}" is not a Proxmox VE VM id`);
  return new Guest(client, node, Number(id));
}

function refuseProblems(spec: Spec): void {
  const problems = vmProblems(spec);
  if (problems.length > 0) throw new InputError("VirtualMachine", problems);
}

/**
 * PVE's per-parameter answers (HTTP 400 "Parameter verification failed.") in NovaCron's words:
 * the model field the parameter came from, the value sent, and PVE's reason.
 */
function fieldErrors(error: unknown, params: Record<string, string | number>, origin: Record<string, string>): unknown {
  if (!(error instanceof PveApiError) || Object.keys(error.fieldErrors).length === 0) return error;
  return new InputError(
    "VirtualMachine",
    Object.entries(error.fieldErrors).map(([key, reason]) => ({
      property: origin[key] ?? key,
      reason: `Proxmox VE refused ${key}=${showValue(params[key] === undefined ? undefined : String(params[key]))}: ${reason}`,
    })),
  );
}

/** A refused restore: PVE's field errors as spec fields, anything else named as the restore of that archive. */
function restoreRefused(error: unknown, name: string, params: Record<string, string | number>, origin: Record<string, string>): unknown {
  const fields = fieldErrors(error, params, origin);
  if (fields !== error || !(error instanceof PveApiError)) return fields;
  return new Error(`restoreFrom: Proxmox VE refused to restore VM "${name}" from ${params.archive}: ${error.reason}`, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
