// Linux bridges on a Proxmox VE node (/nodes/{node}/network). PVE writes interface changes to a
// pending copy of /etc/network/interfaces; `PUT /nodes/{node}/network` applies them (ifreload).
// The listing shows pending interfaces too, so a bridge is read back from it after the apply.
// SDN vnets (/cluster/sdn) are not managed: see networkProblems.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, PartialCreateError, showValue, type InputFailure } from "../../../core/errors";
import type { NetworkSpec } from "../../../core/model";
import { containsUnknown } from "../../../core/unknown";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";

type Spec = NetworkSpec;

/** PVE's `pve-iface` format. */
const IFACE = /^[A-Za-z][A-Za-z0-9_]{1,20}([:.]\d+)?$/;
/** NovaCron's mark on the bridges it made, in the interface's comment (a `#` line in PVE's interfaces file). */
export const BRIDGE_MARK = "managed by NovaCron";
/** What a lock on PVE's network config is, for the give-up message. */
const NETWORK_LOCK = { subject: "the node's network configuration", clear: "look for a stale lock file under /var/lock on the node" };

interface Iface {
  iface: string;
  type: string;
  autostart?: number;
  active?: number;
  comments?: string;
  bridge_ports?: string;
}

export function networkProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  if (spec.mode === "nat" || spec.mode === "routed" || spec.mode === "isolated") {
    out.push({
      property: "mode",
      reason:
        `got "${spec.mode}"; on Proxmox VE a subnet with NAT or DHCP is an SDN zone and vnet (/cluster/sdn), which NovaCron's Proxmox driver does not manage: ` +
        'its testbed keeps no SDN state, so nothing it wrote could be read back. Use mode "bridge" (a Linux bridge on the node) and put addresses in the guests',
    });
  } else if (spec.mode === "sriov") {
    out.push({ property: "mode", reason: 'got "sriov"; on Proxmox VE SR-IOV functions reach a VM as PCI devices: use a PassthroughDevice (a PCI resource mapping) instead' });
  } else if (spec.bridge !== undefined && !containsUnknown(spec.bridge) && !IFACE.test(spec.bridge)) {
    out.push({ property: "bridge", reason: `got ${showValue(spec.bridge)}; Proxmox VE names interfaces with a letter, then 1-20 letters, digits or _ (e.g. vmbr1)` });
  }
  if (spec.vlan !== undefined)
    out.push({ property: "vlan", reason: "Proxmox VE tags VLANs per guest NIC (nics.*.vlan, PVE's tag=); a bridge made by NovaCron is not itself on a VLAN" });
  return out;
}

/**
 * A Linux bridge on this entry's node, id = its interface name. A bridge carrying NovaCron's mark
 * (its comment) is NovaCron's; any other one (vmbr0) is taken only with `adopt: true` and left in
 * place on destroy. Every write is applied at once, so the node runs what the state records.
 */
export class ProxmoxNetworkResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    return spec.bridge === undefined ? undefined : this.observe(spec.bridge, spec);
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    refuse(spec);
    const iface = spec.bridge!;
    const params = { iface, type: "bridge", autostart: spec.autostart ? 1 : 0, comments: BRIDGE_MARK };
    ctx.progress(`adding bridge ${iface} to node ${this.node}`);
    await retryWhileLocked(
      `bridge ${iface} on node ${this.node}`,
      () =>
        this.client.post(`/nodes/${this.node}/network`, params).catch((error: unknown) => {
          throw fieldErrors(error, params);
        }),
      ctx.deadline,
      ctx.progress,
      NETWORK_LOCK,
    );
    // From here the bridge is in PVE's interfaces file: whatever fails, it is handed back for the state.
    try {
      await this.apply(ctx);
      const made = await this.observe(iface, spec);
      if (!made) throw new Error(`Proxmox VE accepted bridge ${iface} and applied the node's network configuration, but node ${this.node} does not list it`);
      return made;
    } catch (error) {
      throw new PartialCreateError(iface, { state: "unlisted", bridgeName: iface }, `bridge ${iface} on node ${this.node} was written but not confirmed: ${messageOf(error)}`);
    }
  }

  read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    return this.observe(id, last);
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const current = await this.observe(id, next);
    if (!current) throw new Error(`bridge ${id} is gone from node ${this.node}`);
    // Only autostart is a setting of the bridge (everything else replaces it, or is NovaCron's own).
    if (current.spec.autostart !== next.autostart) {
      const iface = (await this.list()).find((i) => i.iface === id);
      const params = { type: "bridge", autostart: next.autostart ? 1 : 0, ...(iface?.comments ? { comments: iface.comments } : {}) };
      await retryWhileLocked(`bridge ${id} on node ${this.node}`, () => this.client.put(`/nodes/${this.node}/network/${id}`, params), ctx.deadline, ctx.progress, NETWORK_LOCK);
      await this.apply(ctx);
    }
    const observed = await this.observe(id, next);
    if (!observed) throw new Error(`bridge ${id} is gone from node ${this.node}`);
    if (observed.spec.autostart !== next.autostart) {
      throw new Error(
        `autostart: Proxmox VE accepted autostart=${next.autostart ? 1 : 0} for bridge ${id} and applied the network configuration, but node ${this.node} still lists ${observed.spec.autostart ? 1 : 0}`,
      );
    }
    return observed;
  }

  async delete(id: string, _spec: Spec, ctx: OperationContext): Promise<void> {
    const iface = (await this.list()).find((i) => i.iface === id);
    if (!iface) return ctx.progress(`bridge ${id} is already gone from node ${this.node}`);
    if (!isOurs(iface)) return ctx.progress(`bridge ${id} does not carry NovaCron's mark: it is left in place`);
    await retryWhileLocked(
      `removal of bridge ${id} from node ${this.node}`,
      async () => {
        try {
          await this.client.delete(`/nodes/${this.node}/network/${id}`);
        } catch (error) {
          if (error instanceof PveApiError && /does not exist/.test(JSON.stringify(error.fieldErrors) + error.reason)) return;
          throw error;
        }
      },
      ctx.deadline,
      ctx.progress,
      NETWORK_LOCK,
    );
    await this.apply(ctx);
    ctx.progress(`bridge ${id} removed from node ${this.node}`);
  }

  /** PVE's reload of the node's interfaces (ifreload): a task, waited for. */
  private async apply(ctx: OperationContext): Promise<void> {
    const upid = await retryWhileLocked(
      `network reload on node ${this.node}`,
      () => this.client.put<string | null>(`/nodes/${this.node}/network`),
      ctx.deadline,
      ctx.progress,
      NETWORK_LOCK,
    );
    if (typeof upid === "string" && upid.startsWith("UPID:")) await waitForTask(this.client, upid, ctx);
  }

  /** The node's interfaces as PVE lists them (pending ones included); `/network/{iface}` is not used, as it answers for a name it does not hold. */
  private list(): Promise<Iface[]> {
    return this.client.get<Iface[]>(`/nodes/${this.node}/network`);
  }

  private async observe(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const iface = (await this.list()).find((i) => i.iface === id);
    if (!iface) return undefined;
    if (iface.type !== "bridge") throw new Error(`bridge: ${id} on node ${this.node} is a ${iface.type} interface, not a bridge`);
    return {
      id,
      spec: { ...last, mode: "bridge", bridge: id, autostart: Number(iface.autostart ?? 0) === 1 },
      owned: isOurs(iface),
      outputs: { state: Number(iface.active ?? 0) === 1 ? "active" : "inactive", bridgeName: id },
    };
  }
}

function isOurs(iface: Iface): boolean {
  return (iface.comments ?? "").includes(BRIDGE_MARK);
}

function refuse(spec: Spec): void {
  const problems = networkProblems(spec);
  if (problems.length > 0) throw new InputError("Network", problems);
}

function fieldErrors(error: unknown, params: Record<string, string | number>): unknown {
  if (!(error instanceof PveApiError) || Object.keys(error.fieldErrors).length === 0) return error;
  const origin: Record<string, string> = { iface: "bridge", autostart: "autostart", type: "mode", comments: "labels" };
  return new InputError(
    "Network",
    Object.entries(error.fieldErrors).map(([k, why]) => ({ property: origin[k] ?? k, reason: `Proxmox VE refused ${k}=${showValue(String(params[k] ?? ""))}: ${why}` })),
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
