import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { InputFailure } from "../../../core/errors";
import { InputError } from "../../../core/errors";
import type { SnapshotSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";
import { isOwned } from "../vm/marker";

/** PVE's `pve-configid` format for snapshot names (at most 40 characters). */
const SNAPNAME = /^[a-zA-Z][a-zA-Z0-9_]{1,39}$/;

interface SnapshotEntry {
  name: string;
  description?: string;
  snaptime?: number;
  vmstate?: number;
  parent?: string;
}

export function snapshotProblems(spec: SnapshotSpec): InputFailure[] {
  const out: InputFailure[] = [];
  if (!SNAPSHOT_VM.test(spec.vm)) out.push({ property: "vm", reason: `got "${spec.vm}"; on Proxmox VE this is the VirtualMachine's or Container's id, a guest id such as "104"` });
  if (!SNAPNAME.test(spec.name))
    out.push({ property: "name", reason: `got "${spec.name}"; Proxmox VE names snapshots with 2-40 letters, digits and _, starting with a letter (no - or .)` });
  if (spec.quiesce)
    out.push({
      property: "quiesce",
      reason: "Proxmox VE freezes guest file systems on its own when the VM's guest agent is enabled with freeze-fs; it cannot be asked for per snapshot",
    });
  return out;
}
const SNAPSHOT_VM = /^\d+$|^04da6b54-80e4-46f7-96ec-b56ff0331ba9$/;

/**
 * Snapshots of a qemu VM or an LXC container (`vm` is its id: one id space for both). PVE names snapshots
 * uniquely per VM, so the id is `<vmid>/<name>`. A snapshot counts as NovaCron's when its VM
 * carries NovaCron's tag.
 */
export class ProxmoxSnapshotResource implements ResourceDriver<SnapshotSpec> {
  /** Guest id → its API folder, learnt on first use. */
  private readonly kinds = new Map<string, "qemu" | "lxc">();

  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const list = await this.list(spec.vm);
    const hit = list?.entries.find((s) => s.name === spec.name);
    return hit ? observed(spec.vm, hit, spec, list!.owned) : undefined;
  }

  async create(spec: SnapshotSpec, ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const problems = snapshotProblems(spec);
    if (problems.length > 0) throw new InputError("Snapshot", problems);
    const base = await this.guestPath(spec.vm);
    if (!base) throw new Error(`guest ${spec.vm} does not exist on node ${this.node}; a snapshot needs its VM or container`);
    if (spec.memory && base.includes("/lxc/"))
      throw new InputError("Snapshot", [{ property: "memory", reason: "a container has no memory state to save; Proxmox VE snapshots containers without it" }]);
    ctx.progress(`taking snapshot ${spec.name} of guest ${spec.vm}${spec.memory ? " with memory" : ""}`);
    await retryWhileLocked(
      `snapshot of VM ${spec.vm}`,
      async () => {
        const upid = await this.client.post<string>(`${base}/snapshot`, {
          snapname: spec.name,
          description: spec.description || undefined,
          vmstate: spec.memory ? 1 : undefined,
        });
        await waitForTask(this.client, upid, ctx);
      },
      ctx.deadline,
      ctx.progress,
    );
    const made = await this.find(spec);
    if (!made) throw new Error(`snapshot "${spec.name}" of VM ${spec.vm} was taken but is not in the VM's snapshot list`);
    return made;
  }

  async read(id: string, last: SnapshotSpec): Promise<Observed<SnapshotSpec> | undefined> {
    const { vm, name } = parseId(id);
    const list = await this.list(vm);
    const hit = list?.entries.find((s) => s.name === name);
    return hit && list!.owned ? observed(vm, hit, last, true) : undefined;
  }

  async update(id: string, old: SnapshotSpec, next: SnapshotSpec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const { vm, name } = parseId(id);
    const base = await this.guestPath(vm);
    if (!base) throw new Error(`guest ${vm} of snapshot ${name} is gone`);
    if (old.description !== next.description) {
      await retryWhileLocked(
        `snapshot ${name} of guest ${vm}`,
        () => this.client.put(`${base}/snapshot/${name}/config`, { description: next.description }),
        ctx.deadline,
        ctx.progress,
      );
    }
    if (next.rollbackOn !== undefined && next.rollbackOn !== old.rollbackOn) {
      // PVE's rollback stops the guest and restores the snapshot (a VM with memory resumes running).
      ctx.progress(`rolling guest ${vm} back to snapshot ${name} (rollbackOn "${next.rollbackOn}")`);
      await retryWhileLocked(
        `rollback of guest ${vm} to ${name}`,
        async () => {
          const upid = await this.client.post<string>(`${base}/snapshot/${name}/rollback`);
          await waitForTask(this.client, upid, ctx);
        },
        ctx.deadline,
        ctx.progress,
      );
    }
    const found = await this.read(id, next);
    if (!found) throw new Error(`snapshot ${name} of VM ${vm} is gone`);
    return found;
  }

  async delete(id: string, _spec: SnapshotSpec, ctx: OperationContext): Promise<void> {
    const { vm, name } = parseId(id);
    const list = await this.list(vm);
    if (!list?.entries.some((s) => s.name === name)) return ctx.progress(`snapshot ${name} of VM ${vm} is already gone`);
    if (!list.owned) return ctx.progress(`VM ${vm} does not carry NovaCron's tag; its snapshot ${name} is left in place`);
    await retryWhileLocked(
      `removal of snapshot ${name} of VM ${vm}`,
      async () => {
        const upid = await this.client.delete<string>(`${await this.guestPath(vm)}/snapshot/${name}`);
        await waitForTask(this.client, upid, ctx);
      },
      ctx.deadline,
      ctx.progress,
    );
  }

  /** The guest's API path (qemu or lxc), or undefined when no guest holds the id. */
  private async guestPath(vm: string): Promise<string | undefined> {
    if (!/^\d+$/.test(vm)) throw new Error(`"${vm}" is not a Proxmox VE guest id`);
    const known = this.kinds.get(vm);
    if (known) return `/nodes/${this.node}/${known}/${vm}`;
    for (const kind of ["qemu", "lxc"] as const) {
      try {
        await this.client.get(`/nodes/${this.node}/${kind}/${vm}/status/current`);
        this.kinds.set(vm, kind);
        return `/nodes/${this.node}/${kind}/${vm}`;
      } catch (error) {
        if (!(error instanceof PveApiError && error.isMissingGuest)) throw error;
      }
    }
    return undefined;
  }

  /** The VM's snapshots (without PVE's "current" entry) and whether the VM is NovaCron's; undefined when the VM is gone. */
  private async list(vm: string): Promise<{ entries: SnapshotEntry[]; owned: boolean } | undefined> {
    try {
      const base = await this.guestPath(vm);
      if (!base) return undefined;
      const [entries, config] = await Promise.all([this.client.get<SnapshotEntry[]>(`${base}/snapshot`), this.client.get<{ tags?: string }>(`${base}/config`)]);
      return { entries: entries.filter((s) => s.name !== "current"), owned: isOwned(config.tags) };
    } catch (error) {
      if (error instanceof PveApiError && error.isMissingGuest) return undefined;
      throw error;
    }
  }
}

function parseId(id: string): { vm: string; name: string } {
  const m = /^(\d+)\/(.+)$/.exec(id);
  if (!m) throw new Error(`"${id}" is not a Proxmox VE snapshot id (<vmid>/<name>)`);
  return { vm: m[1], name: m[2] };
}

function observed(vm: string, entry: SnapshotEntry, last: SnapshotSpec, owned: boolean): Observed<SnapshotSpec> {
  return {
    id: `${vm}/${entry.name}`,
    spec: { ...last, name: entry.name, description: entry.description ?? "", memory: entry.vmstate === 1 ? true : last.memory },
    owned,
    outputs: { state: "ready" },
  };
}
