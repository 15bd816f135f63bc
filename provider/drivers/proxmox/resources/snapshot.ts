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
  if (!SNAPSHOT_VM.test(spec.vm)) out.push({ property: "vm", reason: `got "${spec.vm}"; on Proxmox VE this is the VirtualMachine's id, a VM id such as "104"` });
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
 * Snapshots of a qemu VM (`vm` is the VirtualMachine id, the VM id). PVE names snapshots
 * uniquely per VM, so the id is `<vmid>/<name>`. A snapshot counts as NovaCron's when its VM
 * carries NovaCron's tag.
 */
export class ProxmoxSnapshotResource implements ResourceDriver<SnapshotSpec> {
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
    ctx.progress(`taking snapshot ${spec.name} of VM ${spec.vm}${spec.memory ? " with memory" : ""}`);
    await retryWhileLocked(
      `snapshot of VM ${spec.vm}`,
      async () => {
        const upid = await this.client.post<string>(`${this.vmPath(spec.vm)}/snapshot`, {
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

  async update(id: string, _old: SnapshotSpec, next: SnapshotSpec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<SnapshotSpec>> {
    const { vm, name } = parseId(id);
    await retryWhileLocked(
      `snapshot ${name} of VM ${vm}`,
      () => this.client.put(`${this.vmPath(vm)}/snapshot/${name}/config`, { description: next.description }),
      ctx.deadline,
      ctx.progress,
    );
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
        const upid = await this.client.delete<string>(`${this.vmPath(vm)}/snapshot/${name}`);
        await waitForTask(this.client, upid, ctx);
      },
      ctx.deadline,
      ctx.progress,
    );
  }

  private vmPath(vm: string): string {
    if (!/^\d+$/.test(vm)) throw new Error(`"${vm}" is not a Proxmox VE VM id`);
    return `/nodes/${this.node}/qemu/${vm}`;
  }

  /** The VM's snapshots (without PVE's "current" entry) and whether the VM is NovaCron's; undefined when the VM is gone. */
  private async list(vm: string): Promise<{ entries: SnapshotEntry[]; owned: boolean } | undefined> {
    try {
      const [entries, config] = await Promise.all([
        this.client.get<SnapshotEntry[]>(`${this.vmPath(vm)}/snapshot`),
        this.client.get<{ tags?: string }>(`${this.vmPath(vm)}/config`),
      ]);
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
