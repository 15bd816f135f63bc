// The vSphere side of a cross-hypervisor disk move, over datastore file transfer (HTTPS GET/PUT
// with the session cookie). A disk moves as ESXi keeps it: a text descriptor plus a flat file of
// raw guest bytes (vmdk-descriptor.ts), so what is read out and written in is raw.
import { Readable } from "node:stream";
import type { DiskLocation, DiskTransfer, ImportTarget } from "../../core/disk-transfer";
import { type DatastoreFile, datastoreFileSize, downloadDatastoreFile, uploadDatastoreFile } from "./datastore-files";
import { vmRef } from "./resources/vm";
import type { VsphereSession } from "./session";
import { children, child, FileAlreadyExistsError, getProperties, lookup, num, runTask, VimFault, type VimClient } from "./soap";
import { diskSlots, parseDevices, parseExtraConfig } from "./vm/devices";
import { flatPathOf, parseFlatExtent, vmfsDescriptor } from "./vmdk-descriptor";

const GiB = 1024 ** 3;
/** A descriptor is a few hundred bytes of text; anything big is not one (a single-file sparse vmdk). */
const DESCRIPTOR_MAX = 64 * 1024;

/** "[datastore] folder/file.vmdk" → its parts. */
export function parseDatastorePath(address: string): { datastore: string; path: string } {
  const m = /^\[([^\]]+)\]\s*(.+)$/.exec(address);
  if (!m) throw new Error(`"${address}" is not a datastore path; expected "[datastore] folder/file.vmdk"`);
  return { datastore: m[1] as string, path: m[2] as string };
}

export class VsphereDiskTransfer implements DiskTransfer {
  /** The flat file's bytes are raw; the descriptor beside it is written by importDisk. */
  readonly nativeFormat = "raw" as const;

  constructor(private readonly session: VsphereSession) {}

  async listDisks(vmId: string): Promise<DiskLocation[]> {
    const client = await this.session.client();
    const config = (await getProperties(client, vmRef(vmId), ["config"])).props.get("config");
    if (!config) throw new Error(`host "${this.session.host}": no virtual machine ${vmId}`);
    const devices = parseDevices(child(config, "hardware"));
    const extra = parseExtraConfig(children(config, "extraConfig"));
    const slotOfUnit = new Map([...diskSlots(extra)].map(([slot, unit]) => [unit, slot]));
    const out: DiskLocation[] = [];
    for (const d of devices.disks) {
      // capacityInBytes where the server reports it (vSphere 5.5 on), capacityInKB otherwise.
      let virtualSize = num(d.raw, "capacityInBytes") ?? d.capacityKB * 1024;
      if (virtualSize === 0) {
        // vcsim reports 0 for a disk attached from an existing file; the descriptor knows the size.
        const { datastore, path } = parseDatastorePath(d.fileName);
        virtualSize = parseFlatExtent(await this.readDescriptor(client, { datacenter: this.session.datacenter, datastore, path }), path, d.fileName).size;
      }
      out.push({ slot: slotOfUnit.get(d.unitNumber) ?? `scsi0-${d.unitNumber}`, address: d.fileName, format: "raw", virtualSize });
    }
    return out;
  }

  async exportDisk(disk: DiskLocation): Promise<Readable> {
    const client = await this.session.client();
    const { datastore, path } = parseDatastorePath(disk.address);
    const descriptor = await this.readDescriptor(client, { datacenter: this.session.datacenter, datastore, path });
    const extent = parseFlatExtent(descriptor, path, disk.address);
    const flat: DatastoreFile = { datacenter: this.session.datacenter, datastore, path: extent.path };
    const { body, size } = await downloadDatastoreFile(client, flat);
    if (size !== extent.size) {
      body.destroy();
      throw new Error(`[${datastore}] ${extent.path} holds ${size} bytes but its descriptor declares ${extent.size}; the disk is incomplete and is not moved`);
    }
    return body;
  }

  async importDisk(target: ImportTarget, source: Readable): Promise<DiskLocation> {
    if (target.format !== "raw") {
      source.destroy();
      throw new Error(`vSphere takes a disk's bytes as raw (the flat file beside its descriptor); got format "${target.format}": convert to raw first`);
    }
    const client = await this.session.client();
    const datastore = target.pool;
    const descriptor: DatastoreFile = { datacenter: this.session.datacenter, datastore, path: target.name };
    const flat: DatastoreFile = { ...descriptor, path: flatPathOf(target.name) };
    const address = `[${datastore}] ${target.name}`;
    let written = false;
    try {
      const text = vmfsDescriptor(target.size, flat.path.split("/").pop() as string);
      if ((await datastoreFileSize(client, descriptor)) !== undefined || (await datastoreFileSize(client, flat)) !== undefined) {
        throw new Error(`${address} already exists; a move never overwrites a disk`);
      }
      await this.checkSpace(client, datastore, target.size);
      await this.makeFolder(client, datastore, target.name);
      written = true;
      // The flat file first, the descriptor last: a descriptor exists only beside a complete flat file.
      await uploadDatastoreFile(client, flat, source, target.size);
      if ((await datastoreFileSize(client, flat)) !== target.size) throw new Error(`[${datastore}] ${flat.path}: the datastore holds fewer bytes than were sent`);
      const bytes = Buffer.from(text, "utf8");
      await uploadDatastoreFile(client, descriptor, Readable.from([bytes]), bytes.length);
      return { slot: target.name, address, format: "raw", virtualSize: target.size };
    } catch (error) {
      source.destroy();
      if (written) await this.removeDisk({ slot: target.name, address, format: "raw", virtualSize: target.size }).catch(() => undefined);
      throw error;
    }
  }

  /** Deletes the descriptor and its flat file; either may already be gone. */
  async removeDisk(disk: DiskLocation): Promise<void> {
    const client = await this.session.client();
    const { datastore, path } = parseDatastorePath(disk.address);
    const dc = await lookup(client, "datacenter", this.session.datacenter);
    for (const file of [path, flatPathOf(path)]) {
      try {
        await runTask(client, "DeleteDatastoreFile_Task", client.serviceContent.ref("fileManager"), { name: `[${datastore}] ${file}`, datacenter: dc });
      } catch (error) {
        if (!(error instanceof VimFault && (error.faultType === "FileNotFound" || error.faultType === "NotFound"))) throw error;
      }
    }
  }

  private async readDescriptor(client: VimClient, file: DatastoreFile): Promise<string> {
    const { body, size } = await downloadDatastoreFile(client, file);
    if (size > DESCRIPTOR_MAX) {
      body.destroy();
      throw new Error(`[${file.datastore}] ${file.path} is ${size} bytes, not a disk descriptor: only disks kept as descriptor + flat file can be moved`);
    }
    const parts: Buffer[] = [];
    for await (const chunk of body) parts.push(chunk as Buffer);
    return Buffer.concat(parts).toString("utf8");
  }

  private async checkSpace(client: VimClient, datastore: string, size: number): Promise<void> {
    const ds = await lookup(client, "datastore", datastore, this.session.datacenter);
    const free = num((await getProperties(client, ds, ["summary.freeSpace"])).props.get("summary.freeSpace"));
    if (free !== undefined && free < size) {
      throw new Error(`datastore "${datastore}" has ${(free / GiB).toFixed(1)} GiB free; the disk needs ${(size / GiB).toFixed(1)} GiB`);
    }
  }

  private async makeFolder(client: VimClient, datastore: string, path: string): Promise<void> {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir === "") return;
    const dc = await lookup(client, "datacenter", this.session.datacenter);
    try {
      await client.invoke("MakeDirectory", client.serviceContent.ref("fileManager"), { name: `[${datastore}] ${dir}`, datacenter: dc, createParentDirectories: true });
    } catch (error) {
      if (!(error instanceof FileAlreadyExistsError)) throw error;
    }
  }
}
