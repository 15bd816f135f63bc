import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, PartialCreateError, showValue } from "../../../core/errors";
import type { ContainerSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";
import { destroyGuest } from "../api/destroy-guest";
import { Ct, type CtStatus } from "../container/power";
import { containerProblems, createParams, type CtConfig, type Origin, specFromConfig, updateParams } from "../container/translate";
import { isOwned } from "../vm/marker";

type Spec = ContainerSpec;

const ID_ATTEMPTS = 50;

/**
 * LXC containers on one Proxmox VE node, by container id (`vmid`: one id space with the VMs).
 * Like the VM: the create call arbitrates the id, only containers with NovaCron's tag are
 * adopted, changed or destroyed, and after each config write the pending list says what still
 * needs a restart.
 */
export class ProxmoxContainerResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const guests = await this.client.get<{ vmid: number; name?: string; node: string; tags?: string; type: string }[]>("/cluster/resources", { type: "vm" });
    const named = guests.filter((g) => g.type === "lxc" && g.node === this.node && g.name === spec.name);
    const hit = named.find((g) => isOwned(g.tags)) ?? named[0];
    return hit ? this.observe(new Ct(this.client, this.node, Number(hit.vmid)), spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    refuseProblems(spec);
    const { params, origin } = createParams(spec);
    const start: Record<string, number> = spec.powerState === "running" ? { start: 1 } : {};
    const { vmid, upid } = await this.claimId({ ...params, ...start }, origin, ctx);
    const ct = new Ct(this.client, this.node, vmid);
    ctx.progress(`${spec.restoreFrom ? "restoring" : "creating"} container ${vmid} on node ${this.node}`);
    try {
      await waitForTask(this.client, upid, ctx);
      // A restore takes the archive's config: ours (name, limits, NICs, tag) is written over it.
      if (spec.restoreFrom !== undefined) await this.writeConfig(ct, spec, spec, true);
      return (await this.observe(ct, spec))!;
    } catch (error) {
      const left = await this.observe(ct, spec).catch(() => undefined);
      if (!left) throw error;
      throw new PartialCreateError(
        String(vmid),
        left.outputs,
        `container "${spec.name}" (${vmid}) was created but not finished: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const observed = await this.observe(ctOf(this.client, this.node, id), last);
    return observed?.owned ? observed : undefined;
  }

  async update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    refuseProblems(next);
    const ct = ctOf(this.client, this.node, id);
    await retryWhileLocked(`update of container ${id}`, () => this.writeConfigFresh(ct, old, next, ctx), ctx.deadline, ctx.progress);
    const [pending, status] = await Promise.all([this.pendingKeys(ct), ct.status()]);
    let now: CtStatus | undefined = status;
    if (status.status === "running" && pending.length > 0 && next.powerState === "running") {
      if (!next.updatePolicy.allowReboot) {
        throw new Error(
          `container "${next.name}" (${id}): Proxmox VE keeps ${pending.join(", ")} pending until the container restarts, and updatePolicy.allowReboot is false; ` +
            "the change is written and waits for the next restart. Allow the reboot, or restart the container yourself",
        );
      }
      ctx.progress(`rebooting container ${id} to apply ${pending.join(", ")} (${plan.worst} change)`);
      await ct.action("reboot", ctx, { timeout: next.updatePolicy.shutdownTimeoutSeconds });
      now = undefined;
    }
    await ct.converge(next.powerState, next.updatePolicy.shutdownTimeoutSeconds, ctx, now);
    const observed = await this.observe(ct, next);
    if (!observed) throw new Error(`container ${id} vanished during the update`);
    return observed;
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const ct = ctOf(this.client, this.node, id);
    const status = await ct.statusIfAny();
    if (!status) return ctx.progress(`container ${id} is already gone`);
    const config = await this.config(ct);
    if (!isOwned(config?.tags === undefined ? undefined : String(config.tags))) {
      return ctx.progress(`container ${id} does not carry NovaCron's tag: it is not the container NovaCron made, so it is left in place`);
    }
    if (status.status === "running") await ct.shutdown(spec.updatePolicy.shutdownTimeoutSeconds, ctx);
    await destroyGuest(this.client, ct.path, `container ${id}`, ctx);
  }

  /** As for VMs: /cluster/nextid proposes, the create call decides; a lost race asks again. */
  private async claimId(params: Record<string, string | number>, origin: Origin, ctx: OperationContext): Promise<{ vmid: number; upid: string }> {
    for (let attempt = 1; ; attempt++) {
      const vmid = Number(await this.client.get<string | number>("/cluster/nextid"));
      try {
        const upid = await this.client.post<string>(`/nodes/${this.node}/lxc`, { vmid, ...params });
        return { vmid, upid };
      } catch (error) {
        if (error instanceof PveApiError && /already exists/.test(error.reason) && attempt < ID_ATTEMPTS && Date.now() < ctx.deadline) {
          if (attempt === 1 || attempt % 10 === 0) ctx.progress(`container id ${vmid} was taken by another create; asking for another`);
          continue;
        }
        throw fieldErrors(error, params, origin);
      }
    }
  }

  private async writeConfigFresh(ct: Ct, old: Spec, next: Spec, ctx: OperationContext): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeConfig(ct, old, next);
      } catch (error) {
        if (!(error instanceof PveApiError && error.isStaleDigest) || attempt >= 5) throw error;
        ctx.progress(`container ${ct.vmid}'s config changed while it was being updated (${error.reason}); reading it again`);
      }
    }
  }

  /** Changed keys only, with the digest read just before; then growth through resize. */
  private async writeConfig(ct: Ct, old: Spec, next: Spec, restored = false): Promise<void> {
    const current = await this.config(ct);
    if (!current) throw new Error(`container ${ct.vmid} does not exist on node ${this.node} any more`);
    if (!restored && !isOwned(current.tags === undefined ? undefined : String(current.tags)))
      throw new Error(`container ${ct.vmid} does not carry NovaCron's tag; refusing to change a container NovaCron did not make`);
    const change = updateParams(old, next, current);
    if (Object.keys(change.params).length > 0 || change.deletes.length > 0) {
      const body = { ...change.params, ...(change.deletes.length ? { delete: change.deletes.join(",") } : {}), digest: String(current.digest) };
      await this.client.put(`${ct.path}/config`, body).catch((error: unknown) => {
        throw error instanceof PveApiError && error.isStaleDigest ? error : fieldErrors(error, change.params, change.origin);
      });
    }
    for (const [disk, sizeGiB] of Object.entries(change.resizes)) {
      const from = disk === "rootfs" ? "rootfs.sizeGiB" : `mountPoints.${disk}.sizeGiB`;
      const upid = await this.client.put<string | null>(`${ct.path}/resize`, { disk, size: `${sizeGiB}G` }).catch((error: unknown) => {
        throw fieldErrors(error, { [disk]: `${sizeGiB}G` }, { [disk]: from });
      });
      if (typeof upid === "string" && upid.startsWith("UPID:")) await waitForTask(this.client, upid, { progress: () => undefined, deadline: Date.now() + 600_000 });
    }
  }

  private async pendingKeys(ct: Ct): Promise<string[]> {
    const rows = await this.client.get<{ key: string; pending?: unknown; delete?: number }[]>(`${ct.path}/pending`);
    return rows.filter((r) => r.pending !== undefined || r.delete !== undefined).map((r) => r.key);
  }

  /** The config as it runs (`current=1`): pending values are not what the container has. */
  private async config(ct: Ct): Promise<CtConfig | undefined> {
    try {
      return await this.client.get<CtConfig>(`${ct.path}/config`, { current: 1 });
    } catch (error) {
      if (error instanceof PveApiError && error.isMissingGuest) return undefined;
      throw error;
    }
  }

  private async observe(ct: Ct, last: Spec): Promise<Observed<Spec> | undefined> {
    const [config, status] = await Promise.all([this.config(ct), ct.statusIfAny()]);
    if (!config || !status) return undefined;
    const { spec, macs } = specFromConfig(config, status.status === "running", last);
    return { id: String(ct.vmid), spec, owned: isOwned(config.tags === undefined ? undefined : String(config.tags)), outputs: { state: status.status, macAddresses: macs } };
  }
}

function ctOf(client: PveClient, node: string, id: string): Ct {
  if (!/^\d+$/.test(id)) throw new Error(`"${id}" is not a Proxmox VE container id`);
  return new Ct(client, node, Number(id));
}

function refuseProblems(spec: Spec): void {
  const problems = containerProblems(spec);
  if (problems.length > 0) throw new InputError("Container", problems);
}

/** PVE's per-parameter refusals as the model field, the value sent and PVE's reason. */
function fieldErrors(error: unknown, params: Record<string, string | number>, origin: Origin): unknown {
  if (!(error instanceof PveApiError) || Object.keys(error.fieldErrors).length === 0) return error;
  return new InputError(
    "Container",
    Object.entries(error.fieldErrors).map(([key, reason]) => {
      const top = key.split(".")[0];
      return {
        property: origin[top] ?? top,
        reason: `Proxmox VE refused ${top}=${showValue(params[top] === undefined ? undefined : String(params[top]))}: ${reason}`,
      };
    }),
  );
}
