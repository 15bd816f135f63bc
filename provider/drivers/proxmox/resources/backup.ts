import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, showValue, type InputFailure } from "../../../core/errors";
import type { BackupSpec } from "../../../core/model";
import { containsUnknown } from "../../../core/unknown";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { waitForTask } from "../api/tasks";

type Spec = BackupSpec;

/** An archive the server did not list is recorded by guest, storage and start time. */
const UNLISTED = /^unlisted:(\d+):([^:]+):(\d+)$/;

interface ContentEntry {
  volid: string;
  ctime?: number;
  size?: number;
  vmid?: number;
  protected?: number;
}

export function backupProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  if (!containsUnknown(spec.guest) && !/^\d+$/.test(spec.guest))
    out.push({ property: "guest", reason: `got ${showValue(spec.guest)}; on Proxmox VE this is the VirtualMachine's or Container's id, a guest id such as "104"` });
  if (!containsUnknown(spec.storage) && !/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(spec.storage))
    out.push({ property: "storage", reason: `got ${showValue(spec.storage)}; a Proxmox VE storage id is letters, digits, - _ . starting with a letter` });
  return out;
}

/** retention → PVE's `prune-backups` property string. */
function pruneOf(spec: Spec): string | undefined {
  const r = spec.retention;
  if (!r) return undefined;
  const keys: [string, number | undefined][] = [
    ["keep-last", r.keepLast],
    ["keep-daily", r.keepDaily],
    ["keep-weekly", r.keepWeekly],
    ["keep-monthly", r.keepMonthly],
    ["keep-yearly", r.keepYearly],
  ];
  const set = keys.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return set.length ? set.join(",") : undefined;
}

/**
 * vzdump archives of one guest on a storage (`POST /nodes/{node}/vzdump`). The id is the
 * archive's volume id once the storage lists it. A server that runs the task but lists no
 * archive (fakepve) leaves the backup recorded as `unlisted`: refresh cannot tell it from a
 * removed one, so it keeps the record instead of dropping it.
 */
export class ProxmoxBackupResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  /** A backup is a new point in time: there is never an existing one to adopt. */
  async find(): Promise<undefined> {
    return undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const problems = backupProblems(spec);
    if (problems.length > 0) throw new InputError("Backup", problems);
    const started = Math.floor(Date.now() / 1000);
    const params = {
      vmid: spec.guest,
      storage: spec.storage,
      mode: spec.mode,
      compress: spec.compress === "none" ? "0" : spec.compress,
      "prune-backups": pruneOf(spec),
      "notes-template": spec.notes || undefined,
      protected: spec.protected ? 1 : undefined,
    };
    ctx.progress(`backing up guest ${spec.guest} to storage ${spec.storage} (${spec.mode} mode)`);
    let upid: string;
    try {
      upid = await this.client.post<string>(`/nodes/${this.node}/vzdump`, params);
    } catch (error) {
      if (error instanceof PveApiError && Object.keys(error.fieldErrors).length > 0) {
        const origin: Record<string, string> = { vmid: "guest", storage: "storage", mode: "mode", compress: "compress", "prune-backups": "retention", "notes-template": "notes" };
        throw new InputError(
          "Backup",
          Object.entries(error.fieldErrors).map(([k, why]) => ({
            property: origin[k] ?? k,
            reason: `Proxmox VE refused ${k}=${showValue(String(params[k as keyof typeof params] ?? ""))}: ${why}`,
          })),
        );
      }
      throw error;
    }
    await waitForTask(this.client, upid, ctx);
    const archive = await this.newest(spec, started);
    if (!archive) ctx.progress(`the backup task of guest ${spec.guest} ended OK, but storage ${spec.storage} lists no archive of it; recorded as unlisted`);
    return observed(spec, archive, started);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const unlisted = UNLISTED.exec(id);
    if (unlisted) {
      // The server may list it by now; until then the record stands as it was.
      const since = Number(unlisted[3]);
      const archive = await this.newest(last, since);
      return observed(last, archive, since);
    }
    const storage = id.split(":")[0];
    const hit = (await this.list(storage, last.guest)).find((e) => e.volid === id);
    return hit ? observed(last, hit, hit.ctime ?? 0) : undefined;
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    // Every field but keepOnDestroy replaces the backup (classify.ts): nothing to write.
    const found = await this.read(id, next);
    if (!found) throw new Error(`backup ${id} is gone from its storage`);
    return found;
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    if (UNLISTED.test(id)) return ctx.progress(`backup ${id} was never listed by its storage; nothing to remove`);
    if (spec.keepOnDestroy) return ctx.progress(`backup ${id} is kept on its storage (keepOnDestroy)`);
    const storage = id.split(":")[0];
    const hit = (await this.list(storage, spec.guest)).find((e) => e.volid === id);
    if (!hit) return ctx.progress(`backup ${id} is already gone`);
    if (hit.protected) return ctx.progress(`backup ${id} is protected; it is left on its storage`);
    const upid = await this.client.delete<string | null>(`/nodes/${this.node}/storage/${storage}/content/${id}`);
    if (typeof upid === "string" && upid.startsWith("UPID:")) await waitForTask(this.client, upid, ctx);
    ctx.progress(`backup ${id} removed`);
  }

  private async list(storage: string, guest: string): Promise<ContentEntry[]> {
    try {
      return await this.client.get<ContentEntry[]>(`/nodes/${this.node}/storage/${storage}/content`, { content: "backup", vmid: guest });
    } catch (error) {
      if (error instanceof PveApiError && /does not exist/.test(error.reason)) return [];
      throw error;
    }
  }

  /** The guest's newest archive on the storage made at or after `since` (epoch seconds). */
  private async newest(spec: Spec, since: number): Promise<ContentEntry | undefined> {
    const entries = (await this.list(spec.storage, spec.guest)).filter((e) => (e.ctime ?? 0) >= since - 1);
    return entries.sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0))[0];
  }
}

function observed(spec: Spec, archive: ContentEntry | undefined, started: number): Observed<Spec> {
  return {
    id: archive?.volid ?? `unlisted:${spec.guest}:${spec.storage}:${started}`,
    spec,
    owned: true,
    outputs: {
      state: archive ? "listed" : "unlisted",
      ...(archive ? { archive: archive.volid } : {}),
      ...(archive?.size !== undefined ? { sizeBytes: archive.size } : {}),
      createdAt: new Date((archive?.ctime ?? started) * 1000).toISOString(),
    },
  };
}
