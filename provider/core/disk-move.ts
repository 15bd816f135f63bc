import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CHUNK, convertImage, guestDigest, type ImageFormat } from "./disk-image";
import { WorkerDigest } from "./digest-worker";
import { digestTap, guestStream, sparseRawWriter } from "./disk-stream";
import { type DiskLocation, type DiskTransfer, progressMeter, receiveFile } from "./disk-transfer";
import type { Progress } from "./driver";
import { qcow2RangedView } from "./qcow2-ranges";
import { GrowingFile, qcow2GuestBytes } from "./qcow2-stream";

/**
 * One disk of a cross-hypervisor move, from one driver's data path to another's, with the
 * guest-visible digest checked across every conversion. The fewest passes over the bytes:
 *  - raw to raw streams straight from source to target (no local copy at all);
 *  - qcow2 to raw is read in guest order by ranges where the source can (qcow2-ranges.ts), else
 *    saved locally while its guest bytes already go to the target (qcow2-stream.ts);
 *  - another image to raw is saved locally once, then its guest view is read in place into the target;
 *  - raw to an image is saved locally (zero runs as holes), converted by qemu-img, then sent;
 *  - an image to another image format is saved, converted and sent.
 * Local copies live in a fresh directory under `workDir` that is always removed afterwards.
 */

export interface MoveDiskOptions {
  /** Where local copies go (default: the OS temp directory). Its free space is checked first. */
  workDir?: string;
  /** Format written on the target (default: the target's native format). */
  targetFormat?: ImageFormat;
  /** Reads the disk back from the target and compares its digest too: another full read. */
  verifyTarget?: boolean;
  progress: Progress;
}

export interface MovedDisk {
  location: DiskLocation;
  /** The guest-visible digest (disk-image.ts), the same on both sides. */
  sha256: string;
  virtualSize: number;
  /** Bytes that went to the target. */
  bytesSent: number;
}

export class DiskMoveError extends Error {
  override name = "DiskMoveError";
}

export async function moveDisk(from: DiskTransfer, disk: DiskLocation, to: DiskTransfer, target: { pool: string; name: string }, options: MoveDiskOptions): Promise<MovedDisk> {
  const format = options.targetFormat ?? to.nativeFormat;
  const label = `disks.${disk.slot}`;
  const say = options.progress;
  let moved: MovedDisk;
  if (disk.format === "raw" && format === "raw") {
    say(`${label}: streaming ${mib(disk.virtualSize)} MiB raw from source to target`);
    moved = await withDigest(async (digest) => {
      const source = await from.exportDisk(disk);
      const location = await streamInto(to, { ...target, format: "raw", size: disk.virtualSize }, source, digest, label, say);
      return { location, sha256: await digest.finish(), virtualSize: disk.virtualSize, bytesSent: disk.virtualSize };
    });
  } else {
    moved = await viaLocalCopy(from, disk, to, target, format, options);
  }
  if (options.verifyTarget) {
    try {
      const back = await digestOf(to, moved.location, options.workDir, `${label} (read back)`, say);
      if (back !== moved.sha256) throw new DiskMoveError(`${label}: the copy on the target reads back with digest ${back}, the source has ${moved.sha256}`);
    } catch (error) {
      await to.removeDisk(moved.location).catch(() => undefined);
      throw error;
    }
  }
  say(`${label}: ${mib(moved.virtualSize)} MiB moved, sha256 ${moved.sha256.slice(0, 16)}… ${options.verifyTarget ? "verified on the target" : "checked across conversion"}`);
  return moved;
}

async function viaLocalCopy(
  from: DiskTransfer,
  disk: DiskLocation,
  to: DiskTransfer,
  target: { pool: string; name: string },
  format: ImageFormat,
  options: MoveDiskOptions,
): Promise<MovedDisk> {
  const label = `disks.${disk.slot}`;
  const say = options.progress;
  if (disk.format === "qcow2" && format === "raw" && from.openRanges) {
    const moved = await qcow2ToRawByRanges(from, disk, to, target, say);
    if (moved) return moved;
  }
  const base = options.workDir ?? tmpdir();
  // The exported copy, plus a converted one unless an image goes to raw (read in place).
  const copies = disk.format !== "raw" && format === "raw" ? 1 : 2;
  await checkSpace(base, copies * disk.virtualSize, label);
  const dir = await mkdtemp(join(base, "novacron-move-"));
  try {
    const local = join(dir, `source.${disk.format}`);
    if (disk.format === "qcow2" && format === "raw") return await qcow2ToRawWhileDownloading(from, disk, to, target, local, dir, say);
    let sourceDigest: string;
    if (disk.format === "raw") {
      sourceDigest = await withDigest(async (digest) => {
        await pipeline(await from.exportDisk(disk), digestTap(digest), progressMeter(`${label} download`, disk.virtualSize, say), sparseRawWriter(local));
        return digest.finish();
      });
    } else {
      await receiveFile(await from.exportDisk(disk), local, disk.virtualSize, `${label} download`, say);
      sourceDigest = format === "raw" ? "" : (await guestDigest(local, disk.format)).sha256;
    }
    if (format === "raw") {
      // An image's guest view goes out as raw straight from the local copy, digested on the way.
      let view = await guestStream(local, disk.format);
      if (!view) {
        const raw = join(dir, "source.raw");
        await convertImage(local, disk.format, raw, "raw");
        view = await guestStream(raw, "raw");
      }
      const { stream, virtualSize } = view as NonNullable<typeof view>;
      return await withDigest(async (digest) => {
        const location = await streamInto(to, { ...target, format: "raw", size: virtualSize }, stream, digest, label, say);
        return { location, sha256: await digest.finish(), virtualSize, bytesSent: virtualSize };
      });
    }
    let send = local;
    if (format !== disk.format) {
      say(`${label}: converting ${disk.format} to ${format}`);
      send = join(dir, `target.${format}`);
      await convertImage(local, disk.format, send, format);
      const converted = await guestDigest(send, format);
      if (converted.sha256 !== sourceDigest) throw new DiskMoveError(`${label}: converting ${disk.format} to ${format} changed the guest-visible bytes`);
    }
    const { size } = await stat(send);
    // The file goes as it is; its guest digest was taken above (sourceDigest, equal after conversion).
    const location = await streamInto(to, { ...target, format, size, virtualSize: disk.virtualSize }, createReadStream(send, { highWaterMark: 1 << 20 }), undefined, label, say);
    return { location, sha256: sourceDigest, virtualSize: disk.virtualSize, bytesSent: size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * qcow2 → raw read in guest order with ranged reads from the source (qcow2-ranges.ts): no local
 * copy. Undefined when the image has features that reader leaves to qemu-img (the local path).
 */
async function qcow2ToRawByRanges(from: DiskTransfer, disk: DiskLocation, to: DiskTransfer, target: { pool: string; name: string }, say: Progress): Promise<MovedDisk | undefined> {
  const label = `disks.${disk.slot}`;
  const reader = await (from.openRanges as NonNullable<DiskTransfer["openRanges"]>)(disk);
  try {
    const view = await qcow2RangedView(reader, disk.virtualSize);
    if (typeof view === "string") {
      say(`${label}: the qcow2 has ${view}; qemu-img reads it from a local copy`);
      return undefined;
    }
    say(`${label}: reading the qcow2's ${mib(disk.virtualSize)} MiB in guest order from ${reader.via}, no local copy`);
    const body = Readable.from(view, { objectMode: false, highWaterMark: 2 * CHUNK });
    return await withDigest(async (digest) => {
      const location = await streamInto(to, { ...target, format: "raw", size: disk.virtualSize }, body, digest, label, say);
      return { location, sha256: await digest.finish(), virtualSize: disk.virtualSize, bytesSent: disk.virtualSize };
    });
  } finally {
    await reader.close().catch(() => undefined);
  }
}

/**
 * qcow2 → raw with the upload following the download: the qcow2 is saved locally (its tables
 * need random access) while its guest bytes, read as soon as they are there, go to the target.
 */
async function qcow2ToRawWhileDownloading(
  from: DiskTransfer,
  disk: DiskLocation,
  to: DiskTransfer,
  target: { pool: string; name: string },
  local: string,
  dir: string,
  say: Progress,
): Promise<MovedDisk> {
  const label = `disks.${disk.slot}`;
  const file = new GrowingFile(local);
  const abort = new AbortController();
  const downloading = (async () => pipeline(await from.exportDisk(disk), progressMeter(`${label} download`, disk.virtualSize, say), file.writer(), { signal: abort.signal }))();
  // A download that fails wakes the reader with its error, so the upload fails too.
  downloading.catch((error: Error) => file.fail(error));
  const body = Readable.from(qcow2GuestBytes(file, disk.virtualSize, dir), { objectMode: false, highWaterMark: 2 * CHUNK });
  return withDigest(async (digest) => {
    let location: DiskLocation;
    try {
      location = await streamInto(to, { ...target, format: "raw", size: disk.virtualSize }, body, digest, label, say);
    } catch (error) {
      abort.abort();
      await downloading.catch(() => undefined);
      throw error;
    }
    try {
      await downloading;
    } catch (error) {
      await to.removeDisk(location).catch(() => undefined);
      throw error;
    }
    return { location, sha256: await digest.finish(), virtualSize: disk.virtualSize, bytesSent: disk.virtualSize };
  });
}

/** Pipes `source` through a digest tap (for raw guest bytes) and a progress meter into the target's import. */
async function streamInto(
  to: DiskTransfer,
  target: { pool: string; name: string; format: ImageFormat; size: number; virtualSize?: number },
  source: Readable,
  digest: WorkerDigest | undefined,
  label: string,
  say: Progress,
): Promise<DiskLocation> {
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const meter = progressMeter(`${label} upload`, target.size, say);
  let fedBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      fedBytes += chunk.length;
      done(null, chunk);
    },
  });
  const feeding = digest ? pipeline(source, digestTap(digest), meter, counter, body) : pipeline(source, meter, counter, body);
  const importing = to.importDisk(target, body);
  const [fed, imported] = await Promise.allSettled([feeding, importing]);
  if (imported.status === "rejected") throw imported.reason;
  // The HTTP client may close the body as soon as the server answered for all `size` bytes, a
  // moment before the body's own end arrives: with every byte through (and digested), that is success.
  const allThrough = fed.status === "rejected" && (fed.reason as { code?: string }).code === "ERR_STREAM_PREMATURE_CLOSE" && fedBytes === target.size;
  if (fed.status === "rejected" && !allThrough) {
    // The target took a stream that then broke: never keep what it wrote.
    await to.removeDisk(imported.value).catch(() => undefined);
    throw fed.reason;
  }
  return imported.value;
}

/** The guest digest of a disk as the target keeps it: raw is digested as it streams by. */
async function digestOf(transfer: DiskTransfer, disk: DiskLocation, workDir: string | undefined, label: string, say: Progress): Promise<string> {
  const source = await transfer.exportDisk(disk);
  if (disk.format === "raw") {
    return withDigest(async (digest) => {
      await pipeline(source, digestTap(digest), progressMeter(label, disk.virtualSize, say), sink());
      return digest.finish();
    });
  }
  const dir = await mkdtemp(join(workDir ?? tmpdir(), "novacron-verify-"));
  try {
    const local = join(dir, `disk.${disk.format}`);
    await receiveFile(source, local, disk.virtualSize, label, say);
    return (await guestDigest(local, disk.format)).sha256;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `use` with a digest worker that is always stopped afterwards (a live worker keeps the process up). */
async function withDigest<T>(use: (digest: WorkerDigest) => Promise<T>): Promise<T> {
  const digest = new WorkerDigest();
  try {
    return await use(digest);
  } finally {
    await digest.abandon();
  }
}

/** Drops what it is given: the bytes only needed digesting. */
function sink(): Writable {
  return new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
}

async function checkSpace(dir: string, needed: number, label: string): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needed) {
    throw new DiskMoveError(
      `${label}: ${dir} has ${mib(free)} MiB free for local copies, the move needs up to ${mib(needed)} MiB; free space there or point the move's work directory elsewhere`,
    );
  }
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}
