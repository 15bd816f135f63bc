// The text descriptor of a VMFS disk: ESXi's own on-disk layout, "<name>.vmdk" (this text)
// beside "<name>-flat.vmdk" (the guest's bytes, raw). ESXi attaches this pair to a VM as it is,
// unlike the hosted sparse subformats (monolithicSparse, streamOptimized) that it first has to
// convert; see docs/decisions/0023-cross-move-data-path.md.
import { randomBytes } from "node:crypto";
import { posix } from "node:path";

const SECTOR = 512;

/** The flat file that holds a descriptor's bytes: "dir/web.vmdk" → "dir/web-flat.vmdk". */
export function flatPathOf(descriptorPath: string): string {
  if (!descriptorPath.endsWith(".vmdk")) throw new Error(`"${descriptorPath}": a disk's descriptor name must end in .vmdk`);
  return `${descriptorPath.slice(0, -".vmdk".length)}-flat.vmdk`;
}

/** A descriptor for a single flat extent of `size` bytes named `flatName` (relative to the descriptor). */
export function vmfsDescriptor(size: number, flatName: string, adapterType = "lsilogic"): string {
  if (size <= 0 || size % SECTOR !== 0) throw new Error(`a VMFS disk holds whole 512-byte sectors; got ${size} bytes`);
  const sectors = size / SECTOR;
  // The legacy CHS geometry vSphere still records: 255 heads, 63 sectors per track.
  const cylinders = Math.min(65535, Math.max(1, Math.floor(sectors / (255 * 63))));
  return [
    "# Disk DescriptorFile",
    "version=1",
    'encoding="UTF-8"',
    `CID=${randomBytes(4).toString("hex")}`,
    "parentCID=ffffffff",
    'createType="vmfs"',
    "",
    "# Extent description",
    `RW ${sectors} VMFS "${flatName}"`,
    "",
    "# The Disk Data Base",
    "#DDB",
    "",
    `ddb.adapterType = "${adapterType}"`,
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "255"',
    'ddb.geometry.sectors = "63"',
    'ddb.virtualHWVersion = "13"',
    "",
  ].join("\n");
}

export interface FlatExtent {
  /** Path of the flat file inside the datastore. */
  path: string;
  /** Bytes of the extent (the disk's guest-visible size). */
  size: number;
}

/**
 * The one flat extent of a descriptor at `descriptorPath` (inside its datastore; `label` names it
 * in errors, e.g. "[ds] web/web.vmdk"). Anything else (a snapshot delta with
 * a parent, sparse extents, several extents) is refused by name: only a flat disk's bytes can be
 * read as they are.
 */
export function parseFlatExtent(text: string, descriptorPath: string, label = descriptorPath): FlatExtent {
  const where = `disk descriptor ${label}`;
  if (text.trim() === "") throw new Error(`${where} is empty, so the disk has no contents to move (vcsim creates disks as empty placeholder files)`);
  const parent = /^parentCID\s*=\s*(\S+)/m.exec(text)?.[1];
  if (parent !== undefined && parent.toLowerCase() !== "ffffffff") {
    throw new Error(`${where} has a parent (a snapshot delta); consolidate or remove the VM's snapshots before moving it`);
  }
  const extents = [...text.matchAll(/^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]+)"(?:\s+(\d+))?\s*$/gm)];
  if (extents.length !== 1) throw new Error(`${where} has ${extents.length} extents; only a disk with one flat extent can be moved`);
  const [, , sectors, type, file, offset] = extents[0] as RegExpMatchArray;
  if (type !== "VMFS" && type !== "FLAT") throw new Error(`${where}: extent type ${type} is not a flat file (accepted: VMFS, FLAT); convert the disk to thick or thin VMFS first`);
  if (offset !== undefined && offset !== "0") throw new Error(`${where}: an extent at offset ${offset} is not supported`);
  const dir = posix.dirname(descriptorPath);
  return { path: dir === "." ? (file as string) : `${dir}/${file}`, size: Number(sectors) * SECTOR };
}
