import type { Readable } from "node:stream";
import { CHUNK } from "./disk-image";
import type { DiskRangeReader } from "./disk-transfer";
import { type Header, L2_COMPRESSED, L2_ZERO, OFFSET_MASK, parseHeader, ZEROS } from "./qcow2-stream";

/**
 * A qcow2 image's guest bytes read in guest order straight from the source host, with ranged
 * reads of the stored file: no local copy, so a move needs no local disk space and the bytes
 * are handled once. The tables are small (8 bytes per cluster: 256 KiB for 2 GiB of 64 KiB
 * clusters); each L2 table is read, then its data in as few ranges as the layout allows
 * (clusters contiguous on the host are one range, across guest holes too), so an image qemu-img
 * wrote is read in a handful of ranges and a fragmented one in more, never wrongly.
 */

/** One piece of an L2 table's guest span, in guest order. */
type Segment = { zero: number } | { host: number; length: number };

/**
 * The image's guest bytes as an async generator, or why this reader leaves the image to the
 * local path (qemu-img): features it does not read (those parseHeader refuses, compressed
 * clusters), found by reading every table before the first byte goes out.
 */
export async function qcow2RangedView(reader: DiskRangeReader, virtualSize: number): Promise<AsyncGenerator<Buffer> | string> {
  const header = parseHeader(await readBytes(reader, 0, 104));
  if (typeof header === "string") return header;
  if (header.virtualSize !== virtualSize) throw new Error(`the qcow2 says ${header.virtualSize} bytes, the volume ${virtualSize}`);
  const l1 = await readBytes(reader, header.l1Offset, header.l1Size * 8);
  const cluster = 2 ** header.clusterBits;
  for (const l2Offset of l2Offsets(l1, header)) {
    if (l2Offset === 0) continue;
    const l2 = await readBytes(reader, l2Offset, cluster);
    for (let j = 0; j < cluster / 8; j++) if ((l2.readBigUInt64BE(j * 8) & L2_COMPRESSED) !== 0n) return "compressed clusters";
  }
  return guestBytes(reader, header, l1, virtualSize);
}

async function* guestBytes(reader: DiskRangeReader, header: Header, l1: Buffer, virtualSize: number): AsyncGenerator<Buffer> {
  const cluster = 2 ** header.clusterBits;
  const span = (cluster / 8) * cluster;
  let guest = 0;
  for (const l2Offset of l2Offsets(l1, header)) {
    if (guest >= virtualSize) break;
    const length = Math.min(span, virtualSize - guest);
    const segments: Segment[] = l2Offset === 0 ? [{ zero: length }] : segmentsOf(await readBytes(reader, l2Offset, cluster), cluster, length);
    for (const range of rangesOf(segments)) {
      const source = range.length > 0 ? await reader.range(range.host, range.length) : undefined;
      const taker = source ? new ByteTaker(source, `range ${range.host}+${range.length}`) : undefined;
      try {
        for (const s of range.segments) {
          if ("zero" in s) yield* zeros(s.zero);
          else yield* (taker as ByteTaker).take(s.length);
        }
        await taker?.end();
      } finally {
        source?.destroy();
      }
    }
    guest += length;
  }
  // An L1 table shorter than the disk: the rest reads as zeros.
  if (guest < virtualSize) yield* zeros(virtualSize - guest);
}

function* l2Offsets(l1: Buffer, header: Header): Generator<number> {
  for (let i = 0; i < header.l1Size; i++) yield Number(l1.readBigUInt64BE(i * 8) & OFFSET_MASK);
}

/** The first `length` guest bytes an L2 table maps, as zero runs and host runs (contiguous clusters merged). */
function segmentsOf(l2: Buffer, cluster: number, length: number): Segment[] {
  const out: Segment[] = [];
  for (let j = 0, guest = 0; guest < length; j++, guest += cluster) {
    const entry = l2.readBigUInt64BE(j * 8);
    const take = Math.min(cluster, length - guest);
    const host = Number(entry & OFFSET_MASK);
    const last = out[out.length - 1];
    if ((entry & L2_ZERO) !== 0n || host === 0) {
      if (last && "zero" in last) last.zero += take;
      else out.push({ zero: take });
    } else if (last && "host" in last && last.host + last.length === host) {
      last.length += take;
    } else {
      out.push({ host, length: take });
    }
  }
  return out;
}

/** Segments grouped into host reads: a run continues one read while the host bytes follow on (guest holes between are zeros). */
function rangesOf(segments: Segment[]): { host: number; length: number; segments: Segment[] }[] {
  const out: { host: number; length: number; segments: Segment[] }[] = [];
  let current: (typeof out)[number] | undefined;
  for (const s of segments) {
    if ("zero" in s) {
      if (current) current.segments.push(s);
      else out.push({ host: 0, length: 0, segments: [s] });
      continue;
    }
    if (current && current.host + current.length === s.host) {
      current.segments.push(s);
      current.length += s.length;
    } else {
      current = { host: s.host, length: s.length, segments: [s] };
      out.push(current);
    }
  }
  return out;
}

function* zeros(length: number): Generator<Buffer> {
  for (let at = 0; at < length; at += CHUNK) yield ZEROS.subarray(0, Math.min(CHUNK, length - at));
}

async function readBytes(reader: DiskRangeReader, offset: number, length: number): Promise<Buffer> {
  const taker = new ByteTaker(await reader.range(offset, length), `range ${offset}+${length}`);
  const parts: Buffer[] = [];
  for await (const piece of taker.take(length)) parts.push(piece);
  await taker.end();
  return Buffer.concat(parts, length);
}

/** Takes exact byte counts off a stream, in the pieces it arrives in; a short stream is an error. */
class ByteTaker {
  private readonly pieces: AsyncIterator<Buffer>;
  private left: Buffer | undefined;

  constructor(
    source: Readable,
    private readonly what: string,
  ) {
    this.pieces = source[Symbol.asyncIterator]();
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      let piece = this.left;
      this.left = undefined;
      if (!piece) {
        const next = await this.pieces.next();
        if (next.done) throw new Error(`${this.what}: the image ends ${n} bytes early; its tables point past the end of the file`);
        piece = next.value;
      }
      if (piece.length > n) {
        this.left = piece.subarray(n);
        piece = piece.subarray(0, n);
      }
      n -= piece.length;
      yield piece;
    }
  }

  /** Drains the stream's end: a range read must end where its length says. */
  async end(): Promise<void> {
    const next = this.left ? { done: false } : await this.pieces.next();
    if (!next.done) throw new Error(`${this.what}: more bytes than asked for`);
  }
}
