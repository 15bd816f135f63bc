import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, showValue, type InputFailure } from "../../../core/errors";
import type { StoragePoolSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";

type Spec = StoragePoolSpec;

/** PVE's `pve-storage-id` format. */
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
/** VM disks and container volumes: what a pool made for NovaCron is for. */
const CONTENT = "images,rootdir";

interface StorageConfig {
  storage: string;
  type: string;
  path?: string;
  server?: string;
  export?: string;
  vgname?: string;
  pool?: string;
  content?: string;
  disable?: number;
}

/** The model's pool kinds as PVE storage types, with the options `source` becomes. */
function pveOptions(spec: Spec): Record<string, string> {
  switch (spec.kind) {
    case "dir":
      return { type: "dir", path: spec.path! };
    case "netfs": {
      const [server, ...rest] = (spec.source ?? "").split(":");
      return { type: "nfs", server, export: rest.join(":"), ...(spec.path ? { path: spec.path } : {}) };
    }
    case "logical":
      return { type: "lvm", vgname: spec.source! };
    case "zfs":
      return { type: "zfspool", pool: spec.source! };
    default:
      throw new Error(`kind ${spec.kind} has no Proxmox VE translation`);
  }
}

export function storageProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  if (!STORAGE_ID.test(spec.name))
    out.push({
      property: "name",
      reason: `got ${showValue(spec.name)}; a Proxmox VE storage id is letters, digits, - _ . starting with a letter and ending with a letter or digit`,
    });
  if (!["dir", "netfs", "logical", "zfs"].includes(spec.kind))
    out.push({ property: "kind", reason: `got "${spec.kind}"; NovaCron's Proxmox driver makes dir, netfs (nfs), logical (lvm) and zfs (zfspool) storages so far` });
  if (spec.kind === "netfs" && spec.source !== undefined && !/^[^:/]+:\/.+/.test(spec.source))
    out.push({ property: "source", reason: `got ${showValue(spec.source)}; an NFS source is server:/export` });
  if (!spec.autostart) out.push({ property: "autostart", reason: "Proxmox VE activates every enabled storage itself; autostart cannot be turned off" });
  if (Object.keys(spec.labels).length > 0) out.push({ property: "labels", reason: "Proxmox VE storage definitions hold no description or tags to keep labels in" });
  return out;
}

/**
 * Storage definitions (`/storage`, cluster-wide) checked on this entry's node. PVE keeps no mark
 * on a storage, so NovaCron claims only what it created (recorded in state) or what `adopt: true`
 * hands it; an adopted storage is left in place on destroy. Deleting a definition leaves its data.
 */
export class ProxmoxStorageResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const found = await this.observe(spec.name, spec);
    // `adopt` is the user's consent to manage an existing storage.
    return found ? { ...found, owned: spec.adopt } : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const problems = storageProblems(spec);
    if (problems.length > 0) throw new InputError("StoragePool", problems);
    const options = pveOptions(spec);
    ctx.progress(`defining ${options.type} storage ${spec.name}`);
    try {
      await this.client.post("/storage", { storage: spec.name, content: CONTENT, ...options });
    } catch (error) {
      if (error instanceof PveApiError && Object.keys(error.fieldErrors).length > 0) {
        const field: Record<string, string> = { storage: "name", path: "path", server: "source", export: "source", vgname: "source", pool: "source" };
        throw new InputError(
          "StoragePool",
          Object.entries(error.fieldErrors).map(([k, why]) => ({ property: field[k] ?? k, reason: `Proxmox VE refused ${k}=${showValue(options[k] ?? spec.name)}: ${why}` })),
        );
      }
      throw error;
    }
    const made = await this.observe(spec.name, spec);
    if (!made) throw new Error(`storage ${spec.name} was defined but Proxmox VE does not list it`);
    return made;
  }

  read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    return this.observe(id, last);
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    // Every storage field but NovaCron's own settings replaces the pool (classify.ts): nothing to write.
    const found = await this.observe(id, next);
    if (!found) throw new Error(`storage ${id} is gone`);
    return found;
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    if (spec.adopt) return ctx.progress(`storage ${id} was adopted; it is left in place`);
    try {
      await this.client.delete(`/storage/${id}`);
      ctx.progress(`storage ${id} removed (its data stays where it was)`);
    } catch (error) {
      if (error instanceof PveApiError && /does not exist/.test(error.reason)) return ctx.progress(`storage ${id} is already gone`);
      throw error;
    }
  }

  private async observe(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    let config: StorageConfig;
    try {
      config = await this.client.get<StorageConfig>(`/storage/${id}`);
    } catch (error) {
      if (error instanceof PveApiError && /does not exist/.test(error.reason)) return undefined;
      throw error;
    }
    const status = await this.client.get<{ active?: number; enabled?: number; total?: number }>(`/nodes/${this.node}/storage/${id}/status`).catch(() => undefined);
    const kind = ({ dir: "dir", nfs: "netfs", lvm: "logical", zfspool: "zfs" } as Record<string, Spec["kind"]>)[config.type] ?? last.kind;
    const source = config.type === "nfs" ? `${config.server}:${config.export}` : config.type === "lvm" ? config.vgname : config.type === "zfspool" ? config.pool : last.source;
    const active = status?.active === 1;
    return {
      id,
      spec: {
        ...last,
        name: config.storage ?? id,
        kind,
        ...(config.type === "dir" || (config.type === "nfs" && last.path !== undefined) ? { path: config.path } : {}),
        ...(source !== undefined ? { source } : {}),
        autostart: config.disable !== 1,
      },
      owned: true,
      outputs: { state: active ? "active" : "inactive", running: active, ...(status?.total !== undefined ? { capacityBytes: status.total } : {}) },
    };
  }
}
