import type { VolumeFormat } from "../../core/model";
import type { LibvirtClient, StorageVolRef } from "./rpc";
import { orAbsent } from "./session";
import { buildVolumeXml, parseVolumeXml } from "./xml";

export interface ResolvedVolume {
  ref: StorageVolRef;
  path: string;
  format?: VolumeFormat;
  capacityBytes: number;
}

/**
 * Finds a volume from what users write in `disks.*.volume`: a Volume resource id (its path on the
 * host, libvirt's key for file pools) or `pool/name`.
 */
export async function resolveVolume(client: LibvirtClient, id: string): Promise<ResolvedVolume | undefined> {
  let ref: StorageVolRef | undefined;
  if (id.startsWith("/")) {
    ref = (await orAbsent(client.call("storageVolLookupByPath", { path: id })))?.vol;
  } else {
    const [poolName, ...rest] = id.split("/");
    const pool = await orAbsent(client.call("storagePoolLookupByName", { name: poolName }));
    if (pool && rest.length > 0) ref = (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: rest.join("/") })))?.vol;
  }
  if (!ref) return undefined;
  return describeVolume(client, ref);
}

export async function describeVolume(client: LibvirtClient, ref: StorageVolRef): Promise<ResolvedVolume> {
  const { xml } = await client.call("storageVolGetXmlDesc", { vol: ref, flags: 0 });
  const parsed = parseVolumeXml(xml);
  return { ref, path: parsed.path ?? ref.key, format: parsed.format as VolumeFormat | undefined, capacityBytes: parsed.capacityBytes ?? 0 };
}

/**
 * A volume NovaCron makes on a VM's behalf (a blank disk, a cloud-init seed). Its name is
 * predictable (`<vm>-<slot>.qcow2`), so an existing volume of that name is reused only when
 * `ours` says the VM already uses it (it is in the VM's own definition); any other is someone
 * else's and refused, never written to or later deleted. Content, when given, is uploaded only
 * when it differs.
 */
export async function ensureVolume(
  client: LibvirtClient,
  poolName: string,
  spec: { name: string; capacityBytes: number; format: VolumeFormat; content?: Buffer },
  owner: { field: string; ours: (path: string) => boolean },
): Promise<ResolvedVolume> {
  const pool = await orAbsent(client.call("storagePoolLookupByName", { name: poolName }));
  if (!pool) throw new Error(`storage pool "${poolName}" does not exist on this host`);
  let ref = (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: spec.name })))?.vol;
  let fresh = false;
  if (ref) {
    const existing = await describeVolume(client, ref);
    if (!owner.ours(existing.path)) {
      throw new Error(
        `${owner.field}: volume "${spec.name}" already exists in pool "${poolName}" and is not part of this VM, so NovaCron did not make it for this VM and will neither reuse nor delete it. ` +
          `Rename or remove that volume (if an interrupted NovaCron run left it, virsh vol-delete --pool ${poolName} ${spec.name}), or attach it on purpose with disks.<slot>.volume`,
      );
    }
  } else {
    const xml = buildVolumeXml(
      { host: "", pool: poolName, name: spec.name, format: spec.format, adopt: false, deleteOnDestroy: false, labels: {} },
      { capacityBytes: spec.capacityBytes },
    );
    ref = (await client.call("storageVolCreateXml", { pool: pool.pool, xml, flags: 0 })).vol;
    fresh = true;
  }
  if (spec.content) {
    const same =
      !fresh &&
      (await client.volDownloadToBuffer(ref).then(
        (b) => b.equals(spec.content!),
        () => false,
      ));
    if (!same) await client.volUpload(ref, spec.content);
  }
  return describeVolume(client, ref);
}

export async function deleteVolumeIfPresent(client: LibvirtClient, path: string): Promise<void> {
  const found = await orAbsent(client.call("storageVolLookupByPath", { path }));
  if (found) await orAbsent(client.call("storageVolDelete", { vol: found.vol, flags: 0 }));
}
