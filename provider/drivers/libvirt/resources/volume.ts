import { createReadStream, statSync } from "node:fs";
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { VolumeSpec } from "../../../core/model";
import type { LibvirtClient, StorageVolRef } from "../rpc";
import { orAbsent, tolerateGone, type LibvirtSession } from "../session";
import { describeVolume } from "../volumes";
import { buildVolumeXml } from "../xml";

type Spec = VolumeSpec;
const GIB = 1024 ** 3;

/**
 * Volumes on libvirt, id = the volume's path on the host (libvirt's key for file pools), which is
 * exactly what a VM's `disks.*.volume` needs. Content comes from a clone, a backing store or an
 * upload streamed over the libvirt connection, so remote hosts work the same as local ones.
 */
export class LibvirtVolumeResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const pool = await this.pool(client, spec.pool);
    const found = await orAbsent(client.call("storageVolLookupByName", { pool, name: spec.name }));
    // Libvirt volumes can carry no mark of ours (no metadata, no description), so an existing
    // one is never taken for ours: the runtime refuses it unless the user adopts it. The price
    // is that a leftover of a create interrupted before Pulumi recorded it is refused too, which
    // costs a `virsh vol-delete`, where guessing by name cost someone's data.
    return found ? observe(client, found.vol, spec, false) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const pool = await this.pool(client, spec.pool);
    let vol: StorageVolRef;
    if (spec.cloneFrom) {
      const source = await this.sibling(client, pool, spec.cloneFrom, "cloneFrom");
      const from = await describeVolume(client, source);
      ctx.progress(`cloning ${spec.cloneFrom} (${(from.capacityBytes / GIB).toFixed(1)} GiB)`);
      const xml = buildVolumeXml(spec, { capacityBytes: Math.max(from.capacityBytes, (spec.sizeGiB ?? 0) * GIB) });
      vol = (await client.call("storageVolCreateXmlFrom", { pool, xml, clonevol: source, flags: 0 }, { timeoutMs: Math.max(1000, ctx.deadline - Date.now()) })).vol;
    } else if (spec.backingStore) {
      const base = await describeVolume(client, await this.sibling(client, pool, spec.backingStore, "backingStore"));
      const xml = buildVolumeXml(spec, { backingPath: base.path, backingFormat: base.format, capacityBytes: Math.max(base.capacityBytes, (spec.sizeGiB ?? 0) * GIB) });
      vol = (await client.call("storageVolCreateXml", { pool, xml, flags: 0 })).vol;
    } else if (spec.uploadFrom) {
      const size = statSync(spec.uploadFrom).size;
      const xml = buildVolumeXml({ ...spec, sizeGiB: undefined }, { capacityBytes: size });
      vol = (await client.call("storageVolCreateXml", { pool, xml, flags: 0 })).vol;
      try {
        ctx.progress(`uploading ${spec.uploadFrom} (${(size / 2 ** 20).toFixed(1)} MiB)`);
        await client.volUpload(vol, createReadStream(spec.uploadFrom));
        await client.call("storagePoolRefresh", { pool, flags: 0 });
        if (spec.sizeGiB !== undefined) await grow(client, vol, spec.sizeGiB);
      } catch (error) {
        throw new PartialCreateError(vol.key, {}, `volume "${spec.name}" was created but the upload failed: ${(error as Error).message}`);
      }
    } else {
      vol = (await client.call("storageVolCreateXml", { pool, xml: buildVolumeXml(spec), flags: 0 })).vol;
    }
    return observe(client, vol, spec, true);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("storageVolLookupByKey", { key: id }));
    return found ? observe(client, found.vol, last, true) : undefined;
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const { vol } = await client.call("storageVolLookupByKey", { key: id });
    if (next.sizeGiB !== undefined) {
      ctx.progress(`growing to ${next.sizeGiB} GiB`);
      await grow(client, vol, next.sizeGiB);
    }
    return observe(client, vol, next, true);
  }

  async delete(id: string): Promise<void> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("storageVolLookupByKey", { key: id }));
    if (found) await tolerateGone(client.call("storageVolDelete", { vol: found.vol, flags: 0 }));
  }

  private async pool(client: LibvirtClient, name: string) {
    const found = await orAbsent(client.call("storagePoolLookupByName", { name }));
    if (!found) throw new Error(`pool: no storage pool "${name}" on host "${this.session.host}"`);
    return found.pool;
  }

  private async sibling(client: LibvirtClient, pool: Awaited<ReturnType<LibvirtVolumeResource["pool"]>>, name: string, field: string): Promise<StorageVolRef> {
    const found = await orAbsent(client.call("storageVolLookupByName", { pool, name }));
    if (!found) throw new Error(`${field}: no volume "${name}" in pool "${pool.name}"`);
    return found.vol;
  }
}

/** Volumes only grow: shrinking would destroy data, and the classification replaces instead. */
async function grow(client: LibvirtClient, vol: StorageVolRef, sizeGiB: number): Promise<void> {
  const { capacity } = await client.call("storageVolGetInfo", { vol });
  const wanted = BigInt(Math.round(sizeGiB * GIB));
  if (wanted > capacity) await client.call("storageVolResize", { vol, capacity: wanted, flags: 0 });
}

async function observe(client: LibvirtClient, vol: StorageVolRef, last: Spec, owned: boolean): Promise<Observed<Spec>> {
  const described = await describeVolume(client, vol);
  // A size the user never set (clone, upload) stays unset, or every plan would show it.
  const sizeGiB = last.sizeGiB === undefined ? undefined : described.capacityBytes / GIB;
  return {
    id: vol.key,
    spec: { ...last, name: vol.name, pool: vol.pool, sizeGiB, format: described.format ?? last.format },
    owned,
    outputs: { path: described.path, capacityBytes: described.capacityBytes },
  };
}
