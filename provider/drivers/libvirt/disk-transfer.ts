// The libvirt side of a cross-hypervisor disk move: a stopped domain's disks read out with
// storageVolDownload and written in with storageVolCreateXml + storageVolUpload. Each transfer
// opens a connection of its own: a download pauses its connection while the consumer is behind
// (bounded memory), which must not stall the session's other calls.
import type { Readable } from "node:stream";
import type { ImageFormat } from "../../core/disk-image";
import type { DiskLocation, DiskRangeReader, DiskTransfer, ImportTarget } from "../../core/disk-transfer";
import { redactUrlUserinfo } from "../../core/redact";
import { LibvirtClient, parseLibvirtUri, type StorageVolRef } from "./rpc";
import { HEAD_BYTES, localVolumeRanges } from "./local-volume";
import { type LibvirtSession, orAbsent } from "./session";
import { buildVolumeXml, parseDomainXml, parseVolumeXml } from "./xml";

const FORMATS: readonly ImageFormat[] = ["qcow2", "raw", "vmdk"];
const GiB = 1024 ** 3;

export class LibvirtDiskTransfer implements DiskTransfer {
  readonly nativeFormat = "qcow2" as const;

  constructor(private readonly session: LibvirtSession) {}

  async listDisks(vmId: string): Promise<DiskLocation[]> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: vmId }));
    if (!found) throw new Error(`host "${this.session.host}": no domain with UUID ${vmId}`);
    const { xml } = await client.call("domainGetXmlDesc", { dom: found.dom, flags: 0 });
    const out: DiskLocation[] = [];
    for (const [slot, disk] of Object.entries(parseDomainXml(xml).disks)) {
      let ref: StorageVolRef | undefined;
      if (disk.source.kind === "file") {
        ref = (await orAbsent(client.call("storageVolLookupByPath", { path: disk.source.path })))?.vol;
      } else if (disk.source.kind === "volume") {
        const pool = await orAbsent(client.call("storagePoolLookupByName", { name: disk.source.pool }));
        if (pool) ref = (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: disk.source.volume })))?.vol;
      }
      if (!ref) {
        const where = disk.source.kind === "file" ? disk.source.path : disk.source.kind === "block" ? disk.source.dev : JSON.stringify(disk.source);
        throw new Error(
          `disks.${slot}: ${where} is not a volume of a libvirt storage pool on host "${this.session.host}", so it cannot be read out through libvirt; put the disk in a pool (virsh pool-refresh if the pool exists)`,
        );
      }
      const format = (disk.format ?? parseVolumeXml((await client.call("storageVolGetXmlDesc", { vol: ref, flags: 0 })).xml).format ?? "raw") as ImageFormat;
      if (!FORMATS.includes(format)) throw new Error(`disks.${slot}: format "${format}" cannot be moved; accepted: ${FORMATS.join(", ")}`);
      const info = await client.call("storageVolGetInfo", { vol: ref });
      out.push({ slot, address: ref.key, format, virtualSize: Number(info.capacity) });
    }
    return out;
  }

  async exportDisk(disk: DiskLocation): Promise<Readable> {
    const client = await this.transferClient();
    try {
      const ref = await this.volume(client, disk.address);
      if (!ref) throw new Error(`host "${this.session.host}": volume ${disk.address} is gone`);
      const body = await client.volDownload(ref, { pauseWhenFull: true });
      const close = () => void client.close().catch(() => undefined);
      body.once("close", close);
      return body;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  async openRanges(disk: DiskLocation): Promise<DiskRangeReader> {
    const client = await this.transferClient();
    try {
      const ref = await this.volume(client, disk.address);
      if (!ref) throw new Error(`host "${this.session.host}": volume ${disk.address} is gone`);
      const local = await this.localRanges(client, ref);
      if (local) {
        await client.close();
        return local;
      }
      return {
        via: `libvirt volume downloads from host "${this.session.host}"`,
        // One range at a time on a connection of its own: pausing it for a slow consumer stalls nothing else.
        range: (offset, length) => client.volDownload(ref, { offset: BigInt(offset), length: BigInt(length), pauseWhenFull: true }),
        close: () => client.close(),
      };
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  /** The volume's own file, when libvirtd runs on this machine and vouches for it (local-volume.ts). */
  private async localRanges(client: LibvirtClient, ref: StorageVolRef): Promise<DiskRangeReader | undefined> {
    if (parseLibvirtUri(this.session.uri).transport !== "unix") return undefined;
    const { name: path } = await client.call("storageVolGetPath", { vol: ref });
    const { allocation } = await client.call("storageVolGetInfo", { vol: ref });
    const head = await client.volDownloadToBuffer(ref, { offset: 0n, length: BigInt(HEAD_BYTES) });
    return localVolumeRanges({ path, allocation: Number(allocation), head });
  }

  async importDisk(target: ImportTarget, source: Readable): Promise<DiskLocation> {
    if (!FORMATS.includes(target.format)) throw new Error(`format "${target.format}" cannot be imported into libvirt; accepted: ${FORMATS.join(", ")}`);
    const client = await this.transferClient();
    let ref: StorageVolRef | undefined;
    try {
      const pool = await orAbsent(client.call("storagePoolLookupByName", { name: target.pool }));
      if (!pool) throw new Error(`storage pool "${target.pool}" does not exist on host "${this.session.host}"`);
      if (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: target.name }))) {
        throw new Error(`volume "${target.name}" already exists in pool "${target.pool}" on host "${this.session.host}"; a move never overwrites a volume`);
      }
      const { available } = await client.call("storagePoolGetInfo", { pool: pool.pool });
      if (Number(available) < target.size) {
        throw new Error(
          `storage pool "${target.pool}" on host "${this.session.host}" has ${(Number(available) / GiB).toFixed(1)} GiB free; the disk needs ${(target.size / GiB).toFixed(1)} GiB`,
        );
      }
      // For qcow2 the capacity is rewritten by the uploaded header; libvirt re-reads it after the upload.
      const capacityBytes = target.virtualSize ?? target.size;
      const xml = buildVolumeXml({ host: "", pool: target.pool, name: target.name, format: target.format, adopt: false, deleteOnDestroy: false, labels: {} }, { capacityBytes });
      ref = (await client.call("storageVolCreateXml", { pool: pool.pool, xml, flags: 0 })).vol;
      const sent = await client.volUpload(ref, source);
      if (sent !== target.size) throw new Error(`upload into ${ref.key} sent ${sent} bytes, expected ${target.size}`);
      const info = await client.call("storageVolGetInfo", { vol: ref });
      return { slot: target.name, address: ref.key, format: target.format, virtualSize: Number(info.capacity) };
    } catch (error) {
      source.destroy();
      // A cut upload leaves a volume that looks whole to libvirt: it must not survive.
      if (ref) await this.deleteVolume(ref).catch(() => undefined);
      throw error;
    } finally {
      await client.close();
    }
  }

  async removeDisk(disk: DiskLocation): Promise<void> {
    const client = await this.session.get();
    const ref = await this.volume(client, disk.address);
    if (ref) await this.deleteVolume(ref);
  }

  private async deleteVolume(ref: StorageVolRef): Promise<void> {
    const client = await this.session.get();
    await orAbsent(client.call("storageVolDelete", { vol: ref, flags: 0 }));
  }

  private async volume(client: LibvirtClient, address: string): Promise<StorageVolRef | undefined> {
    return (await orAbsent(client.call("storageVolLookupByKey", { key: address })))?.vol;
  }

  /** A connection for one transfer only (see the file comment). */
  private async transferClient(): Promise<LibvirtClient> {
    try {
      return await LibvirtClient.connect(this.session.uri, { callTimeoutMs: 120_000 });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`host "${this.session.host}": cannot open a transfer connection to ${redactUrlUserinfo(this.session.uri)}: ${redactUrlUserinfo(why)}`);
    }
  }
}
