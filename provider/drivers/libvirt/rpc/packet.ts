// libvirt RPC framing: a 4-byte big-endian total length (counting itself),
// a 24-byte header, then the XDR payload.
import { XdrWriter } from "./xdr";

export const REMOTE_PROGRAM = 0x20008086;
export const QEMU_PROGRAM = 0x20008087;
export const KEEPALIVE_PROGRAM = 0x6b656570;
export const PROTOCOL_VERSION = 1;

export const KeepaliveProc = { PING: 1, PONG: 2 } as const;

export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;

export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const LEN_BYTES = 4;
export const HEADER_BYTES = 24;
/** Largest serialised message libvirt will send or accept (header + payload). */
export const MESSAGE_MAX = 33554432;
/** Stream data per packet; the size libvirt's own client uses. */
export const STREAM_CHUNK_MAX = 262120;

export interface Header {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

export interface Frame {
  header: Header;
  payload: Buffer;
  /** The payload's memory belongs to this frame alone (not a view into a reused read buffer). */
  owned?: boolean;
}

/**
 * Builds a complete frame (length word included). With a scratch writer the
 * frame is encoded there and copied out at its exact size, so a connection
 * does not allocate a fresh oversized buffer per call.
 */
export function buildFrame(h: Header, writeBody?: (w: XdrWriter) => void, scratch?: XdrWriter): Buffer {
  const w = scratch ?? new XdrWriter(256);
  w.reset();
  w.uint(0);
  w.uint(h.prog);
  w.uint(h.vers);
  w.int(h.proc);
  w.int(h.type);
  w.uint(h.serial);
  w.int(h.status);
  if (writeBody) writeBody(w);
  w.patchUint(0, w.length);
  return scratch ? Buffer.from(w.bytes()) : w.bytes();
}

/** Frame with raw (non-XDR) payload bytes, as stream data packets carry. */
export function buildRawFrame(h: Header, data?: Uint8Array): Buffer {
  const n = data ? data.length : 0;
  const out = Buffer.allocUnsafe(LEN_BYTES + HEADER_BYTES + n);
  out.writeUInt32BE(out.length, 0);
  out.writeUInt32BE(h.prog, 4);
  out.writeUInt32BE(h.vers, 8);
  out.writeInt32BE(h.proc, 12);
  out.writeInt32BE(h.type, 16);
  out.writeUInt32BE(h.serial, 20);
  out.writeInt32BE(h.status, 24);
  if (data && n) out.set(data, 28);
  return out;
}

export class FrameError extends Error {
  override readonly name: string = "FrameError";
}

/**
 * Reassembles frames from arbitrary socket chunks. A frame whose length is known but whose bytes
 * have not all arrived is filled in place in a buffer of its exact size, so every byte of a
 * 256 KiB stream packet spread over several reads is copied once, and that frame is `owned`.
 */
export class FrameDecoder {
  /** Bytes of frames not yet started, fewer than a length word's worth. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private partial: { buf: Buffer; filled: number } | undefined;

  /**
   * Returns complete frames; throws FrameError on an impossible length.
   * `borrowed` means the caller will overwrite `chunk` once the returned
   * frames have been handled synchronously: frames that are views into it
   * are not `owned` (consumers that keep their bytes copy them), and nothing
   * kept for later points into it.
   */
  push(chunk: Buffer, borrowed = false): Frame[] {
    const out: Frame[] = [];
    let rest = chunk;
    if (this.partial) {
      const p = this.partial;
      const n = Math.min(p.buf.length - p.filled, rest.length);
      rest.copy(p.buf, p.filled, 0, n);
      p.filled += n;
      rest = rest.subarray(n);
      if (p.filled < p.buf.length) return out;
      this.partial = undefined;
      out.push({ ...parseFrame(p.buf), owned: true });
    }
    if (rest.length === 0) return out;
    // A length word split across reads: join the few bytes (copied, they are tiny).
    if (this.buffered > 0) {
      rest = Buffer.concat([...this.chunks, rest]);
      this.chunks = [];
      this.buffered = 0;
      borrowed = false;
    }
    let at = 0;
    while (rest.length - at >= LEN_BYTES) {
      const len = rest.readUInt32BE(at);
      if (len < LEN_BYTES + HEADER_BYTES || len > LEN_BYTES + MESSAGE_MAX) {
        throw new FrameError(`invalid frame length ${len}`);
      }
      if (rest.length - at < len) {
        const buf = Buffer.allocUnsafe(len);
        const filled = rest.copy(buf, 0, at);
        this.partial = { buf, filled };
        return out;
      }
      out.push({ ...parseFrame(rest.subarray(at, at + len)), owned: !borrowed });
      at += len;
    }
    if (at < rest.length) {
      const tail = rest.subarray(at);
      this.chunks.push(borrowed ? Buffer.from(tail) : tail);
      this.buffered = tail.length;
    }
    return out;
  }

  get pendingBytes(): number {
    return this.buffered + (this.partial?.filled ?? 0);
  }
}

function parseFrame(buf: Buffer): Frame {
  const header: Header = {
    prog: buf.readUInt32BE(4),
    vers: buf.readUInt32BE(8),
    proc: buf.readInt32BE(12),
    type: buf.readInt32BE(16),
    serial: buf.readUInt32BE(20),
    status: buf.readInt32BE(24),
  };
  return { header, payload: buf.subarray(LEN_BYTES + HEADER_BYTES) };
}
