import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Disk images on local disk, with the real `qemu-img`: format conversion (qcow2, vmdk, raw;
 * holes stay holes) and a digest of the guest-visible bytes that two hypervisors' copies of a
 * disk must share. Memory stays bounded: files are read in CHUNK-sized pieces, never whole.
 */
export type ImageFormat = "qcow2" | "vmdk" | "raw";

/** The digest's unit: each chunk is hashed alone; an all-zero chunk has a known hash and is never read. */
export const CHUNK = 1024 * 1024;
const ZERO_CHUNK_HASH = createHash("sha256").update(Buffer.alloc(CHUNK)).digest();

/** One extent of `qemu-img map --output=json`. */
export interface Extent {
  start: number;
  length: number;
  depth: number;
  zero: boolean;
  data: boolean;
  offset?: number;
}

export interface ImageInfo {
  format: ImageFormat;
  virtualSize: number;
  /** Bytes the file takes on disk (holes not counted). */
  actualSize: number;
}

/** Where each guest range of an image lives in its file (or that it reads as zeros). */
export async function mapImage(path: string, format: ImageFormat): Promise<Extent[]> {
  return JSON.parse(await qemuImg(["map", "--output=json", "-f", format, path])) as Extent[];
}

export async function imageInfo(path: string, format?: ImageFormat): Promise<ImageInfo> {
  const out = await qemuImg(["info", "--output=json", ...(format ? ["-f", format] : []), path]);
  const info = JSON.parse(out) as { format: ImageFormat; "virtual-size": number; "actual-size": number };
  return { format: info.format, virtualSize: info["virtual-size"], actualSize: info["actual-size"] };
}

/**
 * Converts `src` to `dst`. qemu-img writes only non-zero clusters, so a sparse source stays
 * sparse; vmdk output is monolithicSparse, the one-file form a datastore upload takes.
 */
export async function convertImage(src: string, srcFormat: ImageFormat, dst: string, dstFormat: ImageFormat): Promise<void> {
  const options = dstFormat === "vmdk" ? ["-o", "subformat=monolithicSparse"] : [];
  await qemuImg(["convert", "-f", srcFormat, "-O", dstFormat, ...options, src, dst]);
}

/**
 * The digest of what the guest sees, whatever the container format: sha256 over the list of
 * per-chunk sha256s. Zero extents are not read. Images whose data qemu-img maps to file
 * offsets (raw; qcow2/vmdk without compression or backing files) are read in place; any
 * other is first converted to a sparse raw temp file.
 */
export async function guestDigest(path: string, format: ImageFormat): Promise<{ sha256: string; virtualSize: number }> {
  const extents = await mapImage(path, format);
  const readable = extents.every((e) => !e.data || e.zero || (e.depth === 0 && e.offset !== undefined));
  if (!readable) {
    const dir = await mkdtemp(join(tmpdir(), "novacron-digest-"));
    try {
      const raw = join(dir, "disk.raw");
      await convertImage(path, format, raw, "raw");
      return await guestDigest(raw, "raw");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const virtualSize = extents.reduce((end, e) => Math.max(end, e.start + e.length), 0);
  const digest = new ChunkDigest();
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(CHUNK);
    for (const e of extents) {
      // Zero extents read as zeros whatever the file holds there (qcow2 zero clusters).
      if (!e.data || e.zero) {
        digest.zeros(e.length);
        continue;
      }
      for (let done = 0; done < e.length; ) {
        const want = Math.min(CHUNK - digest.pending, e.length - done);
        const { bytesRead } = await file.read(buffer, 0, want, (e.offset as number) + done);
        if (bytesRead <= 0) throw new Error(`${path}: short read at guest offset ${e.start + done}`);
        digest.update(buffer.subarray(0, bytesRead));
        done += bytesRead;
      }
    }
  } finally {
    await file.close();
  }
  return { sha256: digest.finish(), virtualSize };
}

/**
 * The chunked digest, fed in guest order. Streaming callers (a transfer that sees the raw
 * bytes go by) use it too, so the digest costs no second pass over the disk.
 */
export class ChunkDigest {
  private readonly outer = createHash("sha256");
  private inner = createHash("sha256");
  /** Bytes of the current chunk seen so far. */
  pending = 0;

  update(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; ) {
      const take = Math.min(CHUNK - this.pending, bytes.length - at);
      this.inner.update(bytes.subarray(at, at + take));
      this.pending += take;
      at += take;
      if (this.pending === CHUNK) this.closeChunk();
    }
  }

  /** `length` zero bytes: whole chunks use the known hash, without hashing anything. */
  zeros(length: number): void {
    let left = length;
    while (left > 0) {
      if (this.pending === 0 && left >= CHUNK) {
        const whole = Math.floor(left / CHUNK);
        for (let i = 0; i < whole; i++) this.outer.update(ZERO_CHUNK_HASH);
        left -= whole * CHUNK;
        continue;
      }
      const take = Math.min(CHUNK - this.pending, left);
      this.update(Buffer.alloc(take));
      left -= take;
    }
  }

  finish(): string {
    if (this.pending > 0) this.closeChunk();
    return this.outer.digest("hex");
  }

  private closeChunk(): void {
    this.outer.update(this.inner.digest());
    this.inner = createHash("sha256");
    this.pending = 0;
  }
}

/** Runs qemu-img; its stderr becomes the error message. Output is small (JSON), never disk data. */
function qemuImg(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("qemu-img", args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new Error(`qemu-img could not be started (${e.message}); install qemu-utils`)));
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new Error(`qemu-img ${args[0]} failed (exit ${code}): ${Buffer.concat(err).toString("utf8").trim()}`));
    });
  });
}
