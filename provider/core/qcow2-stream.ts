import { open } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CHUNK, convertImage } from "./disk-image";

/**
 * A qcow2 image's guest bytes, read while the image is still arriving. A move from KVM would
 * otherwise download the whole qcow2 and only then start the upload; here the upload follows
 * the download: the reader parses the qcow2 tables itself (header, L1, L2) and waits only for
 * the file offsets it needs. An image qemu-img wrote (or any image whose tables come before
 * their data) streams with the download; any other order is still read correctly, with more
 * waiting. Features this reader does not handle (compressed clusters, backing files, external
 * data files, encryption, extended L2 entries) make it wait for the whole file and let
 * qemu-img convert it, so no image is ever read wrongly.
 */

/** A local file that a download is writing in order, with waits for "the first N bytes are there". */
export class GrowingFile {
  written = 0;
  done = false;
  private failure: Error | undefined;
  private waiters: { need: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(readonly path: string) {}

  /** Resolves once `bytes` bytes are on disk, or the download ended (the reader then checks lengths). */
  until(bytes: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.written >= bytes || this.done) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ need: bytes, resolve, reject }));
  }

  /** The writable the download pipes into: positional writes, progress announced after each lands. */
  writer(): Writable {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    return new Writable({
      highWaterMark: CHUNK,
      write: (chunk: Buffer, _enc, done) => {
        (async () => {
          handle ??= await open(this.path, "w");
          await handle.write(chunk, 0, chunk.length, this.written);
          this.written += chunk.length;
          this.wake();
        })().then(() => done(), done);
      },
      final: (done) => {
        const h = handle;
        handle = undefined;
        (h ? h.close() : open(this.path, "w").then((f) => f.close())).then(() => {
          this.done = true;
          this.wake();
          done();
        }, done);
      },
      destroy: (error, done) => {
        if (error) this.fail(error);
        const h = handle;
        handle = undefined;
        if (!h) return done(error);
        h.close().then(
          () => done(error),
          () => done(error),
        );
      },
    });
  }

  fail(error: Error): void {
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.written >= w.need || this.done) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}

const QCOW2_MAGIC = 0x514649fb;
export const OFFSET_MASK = 0x00fffffffffffe00n;
export const L2_COMPRESSED = 1n << 62n;
export const L2_ZERO = 1n;
/** Incompatible feature bits we can read through: dirty (lazy refcounts), compression type (only matters for compressed clusters). */
const READABLE_INCOMPATIBLE = (1n << 0n) | (1n << 3n);
export const ZEROS = Buffer.alloc(CHUNK);

export interface Header {
  clusterBits: number;
  virtualSize: number;
  l1Size: number;
  l1Offset: number;
}

/** Why this reader hands the image to qemu-img, or the parsed header. */
export function parseHeader(b: Buffer): Header | string {
  if (b.length < 72 || b.readUInt32BE(0) !== QCOW2_MAGIC) return "not a qcow2 header";
  const version = b.readUInt32BE(4);
  if (version !== 2 && version !== 3) return `qcow2 version ${version}`;
  if (b.readBigUInt64BE(8) !== 0n) return "a backing file";
  if (b.readUInt32BE(32) !== 0) return "encryption";
  if (version === 3 && b.length >= 80 && (b.readBigUInt64BE(72) & ~READABLE_INCOMPATIBLE) !== 0n) return "incompatible features";
  const clusterBits = b.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) return `cluster bits ${clusterBits}`;
  return { clusterBits, virtualSize: Number(b.readBigUInt64BE(24)), l1Size: b.readUInt32BE(36), l1Offset: Number(b.readBigUInt64BE(40)) };
}

/**
 * The guest bytes of the qcow2 that `file` is receiving, in guest order, in pieces of at most
 * CHUNK bytes. `workDir` takes a raw conversion when qemu-img has to do the reading.
 */
export async function* qcow2GuestBytes(file: GrowingFile, expectedSize: number, workDir: string): AsyncGenerator<Buffer> {
  await file.until(104);
  const fd = await open(file.path, "r");
  let fallback: Awaited<ReturnType<typeof open>> | undefined;
  const read = async (offset: number, length: number): Promise<Buffer> => {
    await file.until(offset + length);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await fd.read(buffer, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${file.path}: the qcow2 ends at ${offset + bytesRead}, its tables point to ${offset + length}`);
    return buffer;
  };
  /** qemu-img reads what this reader does not: after the whole file arrived, from here on. */
  const viaQemuImg = async function* (from: number): AsyncGenerator<Buffer> {
    if (!fallback) {
      await file.until(Number.MAX_SAFE_INTEGER);
      const raw = join(workDir, "qemu-img-view.raw");
      await convertImage(file.path, "qcow2", raw, "raw");
      fallback = await open(raw, "r");
    }
    for (let at = from; at < expectedSize; ) {
      const n = Math.min(CHUNK, expectedSize - at);
      const buffer = Buffer.allocUnsafe(n);
      const { bytesRead } = await fallback.read(buffer, 0, n, at);
      if (bytesRead !== n) throw new Error(`${file.path}: converted image is shorter than ${expectedSize} bytes`);
      yield buffer;
      at += n;
    }
  };
  try {
    const header = parseHeader(await read(0, 104));
    if (typeof header === "string") {
      yield* viaQemuImg(0);
      return;
    }
    if (header.virtualSize !== expectedSize) throw new Error(`${file.path}: the qcow2 says ${header.virtualSize} bytes, the volume ${expectedSize}`);
    const cluster = 2 ** header.clusterBits;
    const perL2 = cluster / 8;
    const l1 = await read(header.l1Offset, header.l1Size * 8);
    let guest = 0;
    // Contiguous data clusters are read together, in pieces of at most CHUNK bytes.
    let run: { host: number; length: number } | undefined;
    const flushRun = async function* (): AsyncGenerator<Buffer> {
      if (!run) return;
      const r = run;
      run = undefined;
      for (let at = 0; at < r.length; at += CHUNK) yield await read(r.host + at, Math.min(CHUNK, r.length - at));
    };
    const zeros = function* (length: number): Generator<Buffer> {
      for (let at = 0; at < length; at += CHUNK) yield ZEROS.subarray(0, Math.min(CHUNK, length - at));
    };
    for (let i = 0; i < header.l1Size && guest < expectedSize; i++) {
      const l2Offset = Number(l1.readBigUInt64BE(i * 8) & OFFSET_MASK);
      const span = Math.min(perL2 * cluster, expectedSize - guest);
      if (l2Offset === 0) {
        yield* flushRun();
        yield* zeros(span);
        guest += span;
        continue;
      }
      const l2 = await read(l2Offset, cluster);
      for (let j = 0; j < perL2 && guest < expectedSize; j++) {
        const entry = l2.readBigUInt64BE(j * 8);
        const length = Math.min(cluster, expectedSize - guest);
        if ((entry & L2_COMPRESSED) !== 0n) {
          yield* flushRun();
          yield* viaQemuImg(guest);
          return;
        }
        const host = Number(entry & OFFSET_MASK);
        if ((entry & L2_ZERO) !== 0n || host === 0) {
          yield* flushRun();
          yield* zeros(length);
        } else if (run && run.host + run.length === host && run.length < CHUNK) {
          run.length += length;
        } else {
          yield* flushRun();
          run = { host, length };
        }
        guest += length;
      }
      yield* flushRun();
    }
    // An L1 table shorter than the disk: the rest reads as zeros.
    if (guest < expectedSize) yield* zeros(expectedSize - guest);
  } finally {
    await fd.close();
    await fallback?.close();
  }
}
