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
 * Reassembles frames from arbitrary socket chunks. Chunks are kept in a list
 * and joined once per frame, so a 256 KiB stream packet arriving in 64 KiB
 * reads costs one copy, not a growing series of copies.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * Returns complete frames; throws FrameError on an impossible length.
   * `borrowed` means the caller will overwrite `chunk` once the returned
   * frames have been handled synchronously, so any leftover partial frame is
   * copied out of it (the frames themselves stay views; consumers that keep
   * bytes copy them).
   */
  push(chunk: Buffer, borrowed = false): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Frame[] = [];
    for (;;) {
      if (this.buffered < LEN_BYTES) break;
      const len = this.peekLength();
      if (len < LEN_BYTES + HEADER_BYTES || len > LEN_BYTES + MESSAGE_MAX) {
        throw new FrameError(`invalid frame length ${len}`);
      }
      if (this.buffered < len) break;
      out.push(parseFrame(this.take(len)));
    }
    if (borrowed) {
      for (let i = 0; i < this.chunks.length; i++) {
        if (this.chunks[i].buffer === chunk.buffer) this.chunks[i] = Buffer.from(this.chunks[i]);
      }
    }
    return out;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= LEN_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, LEN_BYTES);
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks, this.buffered);
      out = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
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
