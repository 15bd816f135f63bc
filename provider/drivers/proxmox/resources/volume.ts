import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, showValue, type InputFailure } from "../../../core/errors";
import type { VolumeSpec } from "../../../core/model";
import { containsUnknown } from "../../../core/unknown";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { waitForTask } from "../api/tasks";

type Spec = VolumeSpec;

/** PVE names a guest's disk images after their owner: vm-<id>-<rest> (base-<id>-… for templates). */
const OWNED_NAME = /^(?:vm|base)-(\d+)-[A-Za-z0-9_.-]+$/;

interface ContentEntry {
  volid: string;
  size?: number;
  format?: string;
  vmid?: number;
}

export function volumeProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  if (!containsUnknown(spec.name) && !OWNED_NAME.test(spec.name))
    out.push({
      property: "name",
      reason: `got ${showValue(spec.name)}; Proxmox VE names a disk image after the guest that owns it, vm-<id>-<name> such as "vm-104-disk-1" (or "vm-104-data.qcow2" on a directory storage)`,
    });
  const refuse = (property: "cloneFrom" | "backingStore" | "uploadFrom", why: string) => {
    if (spec[property] !== undefined) out.push({ property, reason: why });
  };
  refuse("cloneFrom", "Proxmox VE copies disk images only as part of a guest (clone or move-disk), not as a storage operation");
  refuse("backingStore", "Proxmox VE makes linked (copy-on-write) disks only by cloning a template guest");
  refuse("uploadFrom", "Proxmox VE's upload takes ISO images and container templates only; a disk image is imported when a VM's disk is created from it (import-from)");
  if (Object.keys(spec.labels).length > 0) out.push({ property: "labels", reason: "Proxmox VE keeps no description or tags on a disk image to hold labels" });
  return out;
}

/**
 * Disk images on a storage (`/nodes/{node}/storage/{storage}/content`), owned by the guest id in
 * their name as PVE requires. PVE keeps no mark on a volume, so an existing one is taken only with
 * `adopt: true` (and then left in place on destroy).
 */
export class ProxmoxVolumeResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const hit = (await this.list(spec.pool)).find((e) => volname(e.volid) === spec.name || volname(e.volid).endsWith(`/${spec.name}`));
    return hit ? { ...observed(hit, spec), owned: spec.adopt } : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const problems = volumeProblems(spec);
    if (problems.length > 0) throw new InputError("Volume", problems);
    const vmid = OWNED_NAME.exec(spec.name)![1];
    const params = { vmid, filename: spec.name, size: `${spec.sizeGiB}G`, format: spec.format };
    ctx.progress(`allocating ${spec.sizeGiB} GiB ${spec.format} image ${spec.name} on storage ${spec.pool}`);
    let volid: string;
    try {
      volid = await this.client.post<string>(`/nodes/${this.node}/storage/${spec.pool}/content`, params);
    } catch (error) {
      if (error instanceof PveApiError && Object.keys(error.fieldErrors).length > 0) {
        const origin: Record<string, string> = { vmid: "name", filename: "name", size: "sizeGiB", format: "format", storage: "pool" };
        throw new InputError(
          "Volume",
          Object.entries(error.fieldErrors).map(([k, why]) => ({
            property: origin[k] ?? k,
            reason: `Proxmox VE refused ${k}=${showValue(String(params[k as keyof typeof params] ?? spec.pool))}: ${why}`,
          })),
        );
      }
      throw error;
    }
    const made = await this.read(volid, spec);
    if (!made) throw new Error(`volume ${volid} was allocated but storage ${spec.pool} does not list it`);
    return made;
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const hit = (await this.list(id.split(":")[0])).find((e) => e.volid === id);
    return hit ? observed(hit, last) : undefined;
  }

  async update(id: string, old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    if (next.sizeGiB !== old.sizeGiB) {
      throw new Error(
        `sizeGiB: volume ${id}: Proxmox VE resizes a disk image only through the guest that holds it (PUT …/resize of the VM or container); grow the guest's disk there, or attach the volume and grow it through the guest's spec`,
      );
    }
    const found = await this.read(id, next);
    if (!found) throw new Error(`volume ${id} is gone`);
    return found;
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    if (spec.adopt && !spec.deleteOnDestroy) return ctx.progress(`volume ${id} was adopted; it is left in place`);
    if (!(await this.read(id, spec))) return ctx.progress(`volume ${id} is already gone`);
    const upid = await this.client.delete<string | null>(`/nodes/${this.node}/storage/${id.split(":")[0]}/content/${id}`);
    if (typeof upid === "string" && upid.startsWith("UPID:")) await waitForTask(this.client, upid, ctx);
    ctx.progress(`volume ${id} removed`);
  }

  private async list(storage: string): Promise<ContentEntry[]> {
    try {
      return await this.client.get<ContentEntry[]>(`/nodes/${this.node}/storage/${storage}/content`, { content: "images" });
    } catch (error) {
      if (error instanceof PveApiError && /does not exist/.test(error.reason)) return [];
      throw error;
    }
  }
}

function volname(volid: string): string {
  return volid.slice(volid.indexOf(":") + 1);
}

function observed(entry: ContentEntry, last: Spec): Observed<Spec> {
  const format = entry.format === "qcow2" || entry.format === "raw" || entry.format === "vmdk" ? entry.format : last.format;
  return {
    id: entry.volid,
    spec: { ...last, format, ...(entry.size !== undefined ? { sizeGiB: entry.size / 1024 ** 3 } : {}) },
    owned: true,
    outputs: { path: entry.volid, ...(entry.size !== undefined ? { capacityBytes: entry.size } : {}) },
  };
}
