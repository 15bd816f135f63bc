/**
 * A minimal ISO 9660 writer: one flat root directory, files only.
 *
 * Why Joliet rather than Rock Ridge: the seed is read by more than Linux. Hyper-V
 * guests and tooling on Windows hosts read Joliet but ignore Rock Ridge, while the
 * Linux kernel, FreeBSD and libblkid all read Joliet too, so one extension covers
 * every driver. Joliet also needs no SUSP bookkeeping (SP/ER/PX/NM, continuation
 * areas): names are plain UCS-2 in a second directory tree that shares the file
 * extents with the primary one, so there is less to get subtly wrong.
 *
 * Why these fixed dates: the driver compares image bytes to decide whether to
 * re-upload, so nothing in the image may depend on when it was built.
 */

export const SECTOR = 2048;

export interface IsoFile {
  /** Exact name as guests should see it (Joliet); a level-1 alias is derived. */
  name: string;
  data: Buffer;
}

export interface IsoImage {
  /** Written as given into both descriptors; cloud-init matches the lowercase label. */
  volumeId: string;
  files: readonly IsoFile[];
}

/** Sectors 0-15 are the system area; volume descriptors start at 16 (ECMA-119 6.2.1). */
const FIRST_DESCRIPTOR = 16;
const JOLIET_MAX_NAME = 64;
const MAX_EXTENT_BYTES = 0xffff_ffff;
/** 1980-01-01 00:00:00 UTC: fixed and obviously synthetic, so it cannot be mistaken for a build time. */
const RECORD_DATE = Buffer.from([80, 1, 1, 0, 0, 0, 0]);
const VOLUME_DATE = "1980010100000000";
const UNSET_DATE = "0000000000000000";
/** Joliet forbids control characters and these separators/wildcards in names. */
const JOLIET_FORBIDDEN = /[\u0000-\u001f*/:;?\\]/;

interface Entry {
  primaryId: Buffer;
  jolietId: Buffer;
  data: Buffer;
  extent: number;
}

export function writeIso9660(image: IsoImage): Buffer {
  const entries = planEntries(image.files);
  const primaryOrder = [...entries].sort((a, b) => Buffer.compare(a.primaryId, b.primaryId));
  const jolietOrder = [...entries].sort((a, b) => Buffer.compare(a.jolietId, b.jolietId));

  // Directory sizes depend only on names, so they can be measured before extents are known.
  const primaryDirSectors = directory(primaryOrder, (e) => e.primaryId, 0).length / SECTOR;
  const jolietDirSectors = directory(jolietOrder, (e) => e.jolietId, 0).length / SECTOR;
  const pathTables = FIRST_DESCRIPTOR + 3;
  const primaryDir = pathTables + 4;
  const jolietDir = primaryDir + primaryDirSectors;
  let next = jolietDir + jolietDirSectors;
  for (const entry of entries) {
    entry.extent = next;
    // Empty files still get a sector so no extent points past the end of the volume.
    next += Math.max(1, Math.ceil(entry.data.length / SECTOR));
  }
  const totalSectors = next;
  if (totalSectors * SECTOR > MAX_EXTENT_BYTES) {
    throw new RangeError(`ISO image would be ${totalSectors * SECTOR} bytes; at most ${MAX_EXTENT_BYTES} fit`);
  }

  const out = Buffer.alloc(totalSectors * SECTOR);
  const primaryRoot = { extent: primaryDir, size: primaryDirSectors * SECTOR };
  const jolietRoot = { extent: jolietDir, size: jolietDirSectors * SECTOR };
  volumeDescriptor("primary", image.volumeId, totalSectors, pathTables, primaryRoot).copy(out, FIRST_DESCRIPTOR * SECTOR);
  volumeDescriptor("joliet", image.volumeId, totalSectors, pathTables + 2, jolietRoot).copy(out, (FIRST_DESCRIPTOR + 1) * SECTOR);
  terminator().copy(out, (FIRST_DESCRIPTOR + 2) * SECTOR);
  pathTable(primaryDir, "le").copy(out, pathTables * SECTOR);
  pathTable(primaryDir, "be").copy(out, (pathTables + 1) * SECTOR);
  pathTable(jolietDir, "le").copy(out, (pathTables + 2) * SECTOR);
  pathTable(jolietDir, "be").copy(out, (pathTables + 3) * SECTOR);
  directory(primaryOrder, (e) => e.primaryId, primaryDir).copy(out, primaryDir * SECTOR);
  directory(jolietOrder, (e) => e.jolietId, jolietDir).copy(out, jolietDir * SECTOR);
  for (const entry of entries) entry.data.copy(out, entry.extent * SECTOR);
  return out;
}

function planEntries(files: readonly IsoFile[]): Entry[] {
  const seen = new Set<string>();
  const aliases = new Set<string>();
  return files.map((file) => {
    if (file.name.length === 0 || file.name.length > JOLIET_MAX_NAME || JOLIET_FORBIDDEN.test(file.name)) {
      throw new RangeError(`ISO file name ${JSON.stringify(file.name)} is not a valid Joliet name (1-${JOLIET_MAX_NAME} characters, no control characters or * / : ; ? \\)`);
    }
    if (seen.has(file.name)) throw new RangeError(`ISO file name ${JSON.stringify(file.name)} is given twice`);
    seen.add(file.name);
    // Only the size is reported: file contents may be secret (cloud-init user data).
    if (file.data.length > MAX_EXTENT_BYTES) {
      throw new RangeError(`ISO file ${JSON.stringify(file.name)} is ${file.data.length} bytes; at most ${MAX_EXTENT_BYTES} fit`);
    }
    const alias = levelOneAlias(file.name, aliases);
    aliases.add(alias);
    return { primaryId: Buffer.from(`${alias}.;1`, "ascii"), jolietId: ucs2(file.name), data: file.data, extent: 0 };
  });
}

/** Level 1 allows 8 d-characters (A-Z 0-9 _) before the dot; collisions get a numeric tail. */
function levelOneAlias(name: string, taken: ReadonlySet<string>): string {
  const base = name
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")
    .slice(0, 8);
  if (!taken.has(base)) return base;
  for (let n = 1; n < 1000; n++) {
    const tail = String(n);
    const candidate = base.slice(0, 8 - tail.length) + tail;
    if (!taken.has(candidate)) return candidate;
  }
  throw new RangeError("too many ISO file names share the same 8-character prefix");
}

function ucs2(text: string): Buffer {
  return Buffer.from(text, "utf16le").swap16();
}

function both16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

function both32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

/** ECMA-119 9.1: identifiers of even length get one pad byte so records stay even-sized. */
function directoryRecord(id: Buffer, extent: number, size: number, isDirectory: boolean): Buffer {
  const length = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const rec = Buffer.alloc(length);
  rec[0] = length;
  both32(rec, 2, extent);
  both32(rec, 10, size);
  RECORD_DATE.copy(rec, 18);
  rec[25] = isDirectory ? 0x02 : 0x00;
  both16(rec, 28, 1);
  rec[32] = id.length;
  id.copy(rec, 33);
  return rec;
}

/** The root's ".." points at itself; records never straddle a sector (ECMA-119 6.8.1.1). */
function directory(entries: readonly Entry[], idOf: (e: Entry) => Buffer, extent: number): Buffer {
  const records = entries.map((e) => directoryRecord(idOf(e), e.extent, e.data.length, false));
  const self = (size: number, id: number) => directoryRecord(Buffer.from([id]), extent, size, true);
  // The "." and ".." records are the same length whatever size they carry.
  const size = measure([self(0, 0), self(0, 1), ...records]);
  return pack([self(size, 0), self(size, 1), ...records], size);
}

function measure(records: readonly Buffer[]): number {
  let used = 0;
  for (const rec of records) {
    if ((used % SECTOR) + rec.length > SECTOR) used = Math.ceil(used / SECTOR) * SECTOR;
    used += rec.length;
  }
  return Math.max(1, Math.ceil(used / SECTOR)) * SECTOR;
}

function pack(records: readonly Buffer[], size: number): Buffer {
  const out = Buffer.alloc(size);
  let used = 0;
  for (const rec of records) {
    if ((used % SECTOR) + rec.length > SECTOR) used = Math.ceil(used / SECTOR) * SECTOR;
    rec.copy(out, used);
    used += rec.length;
  }
  return out;
}

/** One root entry: identifier (00), parent 1; 10 bytes including the pad byte (ECMA-119 9.4). */
function pathTable(rootExtent: number, order: "le" | "be"): Buffer {
  const table = Buffer.alloc(SECTOR);
  table[0] = 1;
  if (order === "le") {
    table.writeUInt32LE(rootExtent, 2);
    table.writeUInt16LE(1, 6);
  } else {
    table.writeUInt32BE(rootExtent, 2);
    table.writeUInt16BE(1, 6);
  }
  return table;
}

const PATH_TABLE_BYTES = 10;

function volumeDescriptor(kind: "primary" | "joliet", volumeId: string, totalSectors: number, pathTableSector: number, root: { extent: number; size: number }): Buffer {
  const vd = Buffer.alloc(SECTOR);
  const text = kind === "primary" ? asciiField : ucs2Field;
  vd[0] = kind === "primary" ? 1 : 2;
  vd.write("CD001", 1, "ascii");
  vd[6] = 1;
  text("", 32).copy(vd, 8);
  text(volumeId, 32).copy(vd, 40);
  both32(vd, 80, totalSectors);
  // UCS-2 level 3 escape sequence marks the supplementary descriptor as Joliet.
  if (kind === "joliet") vd.write("%/E", 88, "ascii");
  both16(vd, 120, 1);
  both16(vd, 124, 1);
  both16(vd, 128, SECTOR);
  both32(vd, 132, PATH_TABLE_BYTES);
  vd.writeUInt32LE(pathTableSector, 140);
  vd.writeUInt32BE(pathTableSector + 1, 148);
  directoryRecord(Buffer.from([0]), root.extent, root.size, true).copy(vd, 156);
  text("", 128).copy(vd, 190);
  text("", 128).copy(vd, 318);
  text("", 128).copy(vd, 446);
  text("NOVACRON", 128).copy(vd, 574);
  text("", 37).copy(vd, 702);
  text("", 37).copy(vd, 739);
  text("", 37).copy(vd, 776);
  vd.write(VOLUME_DATE, 813, "ascii");
  vd.write(VOLUME_DATE, 830, "ascii");
  vd.write(UNSET_DATE, 847, "ascii");
  vd.write(UNSET_DATE, 864, "ascii");
  vd[881] = 1;
  return vd;
}

function asciiField(value: string, width: number): Buffer {
  const field = Buffer.alloc(width, 0x20);
  field.write(value.slice(0, width), 0, "ascii");
  return field;
}

/** Joliet pads with UCS-2 spaces; an odd-width field keeps its last byte zero. */
function ucs2Field(value: string, width: number): Buffer {
  const field = Buffer.alloc(width);
  const chars = Math.floor(width / 2);
  ucs2(value.slice(0, chars).padEnd(chars, " ")).copy(field, 0);
  return field;
}

function terminator(): Buffer {
  const vd = Buffer.alloc(SECTOR);
  vd[0] = 255;
  vd.write("CD001", 1, "ascii");
  vd[6] = 1;
  return vd;
}
