import { open } from "node:fs/promises";
import { Readable, Transform, Writable } from "node:stream";
import { CHUNK, type ImageFormat, mapImage } from "./disk-image";

/**
 * Guest bytes as streams, in bounded memory: an image's guest view read in place (no raw temp
 * copy), a digest tap for bytes going by, and a raw file writer that keeps zero runs as holes.
 */

/** One read-only run of zeros, handed out in slices: zero extents cost no allocation. */
const ZEROS = Buffer.alloc(CHUNK);

/**
 * The guest-visible bytes of an image, in guest order, as a stream of CHUNK-sized pieces. Data
 * extents are read from where qemu-img maps them in the file; zero extents are emitted without
 * reading. Undefined when the image cannot be read in place (compressed clusters, a backing
 * file): convert it to raw first.
 */
export async function guestStream(path: string, format: ImageFormat): Promise<{ stream: Readable; virtualSize: number } | undefined> {
  const extents = await mapImage(path, format);
  if (!extents.every((e) => !e.data || e.zero || (e.depth === 0 && e.offset !== undefined))) return undefined;
  const virtualSize = extents.reduce((end, e) => Math.max(end, e.start + e.length), 0);
  async function* pieces(): AsyncGenerator<Buffer> {
    const file = await open(path, "r");
    try {
      for (const e of extents) {
        for (let done = 0; done < e.length; ) {
          const want = Math.min(CHUNK, e.length - done);
          if (!e.data || e.zero) {
            yield ZEROS.subarray(0, want);
            done += want;
            continue;
          }
          // A fresh buffer per piece: the consumer may still hold the previous one.
          const buffer = Buffer.allocUnsafe(want);
          const { bytesRead } = await file.read(buffer, 0, want, (e.offset as number) + done);
          if (bytesRead <= 0) throw new Error(`${path}: short read at guest offset ${e.start + done}`);
          yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
          done += bytesRead;
        }
      }
    } finally {
      await file.close();
    }
  }
  return { stream: Readable.from(pieces(), { objectMode: false, highWaterMark: 2 * CHUNK }), virtualSize };
}

/** Takes bytes in order: a ChunkDigest, or a WorkerDigest that may ask the stream to wait. */
export interface DigestSink {
  update(bytes: Buffer): void | Promise<void>;
}

/** A pass-through that feeds every byte into `digest` (raw guest bytes, in order). */
export function digestTap(digest: DigestSink): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const queued = digest.update(chunk);
      if (queued) queued.then(() => done(null, chunk), done);
      else done(null, chunk);
    },
  });
}

/**
 * Writes raw guest bytes to `path`, leaving every all-zero CHUNK-aligned piece as a hole, so a
 * sparse disk stays sparse on local disk too. The file ends up exactly as long as the bytes.
 */
export function sparseRawWriter(path: string): Writable {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let position = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flushWhole = async (final: boolean): Promise<void> => {
    if (!handle) handle = await open(path, "w");
    let joined = pendingBytes > 0 ? Buffer.concat(pending, pendingBytes) : Buffer.alloc(0);
    let at = 0;
    while (joined.length - at >= CHUNK || (final && at < joined.length)) {
      const piece = joined.subarray(at, at + Math.min(CHUNK, joined.length - at));
      if (!piece.equals(ZEROS.subarray(0, piece.length))) await handle.write(piece, 0, piece.length, position);
      position += piece.length;
      at += piece.length;
    }
    joined = joined.subarray(at);
    pending = joined.length > 0 ? [Buffer.from(joined)] : [];
    pendingBytes = joined.length;
  };
  return new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _enc, done) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < CHUNK) return done();
      flushWhole(false).then(() => done(), done);
    },
    final(done) {
      flushWhole(true)
        .then(async () => {
          const h = handle as NonNullable<typeof handle>;
          await h.truncate(position);
          await h.close();
          handle = undefined;
        })
        .then(() => done(), done);
    },
    destroy(error, done) {
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
