// libvirt data streams (volume upload/download). After the opening call is
// answered, raw bytes flow as STREAM packets on the call's serial with status
// CONTINUE. The daemon marks end-of-data with an empty CONTINUE; the client
// always finishes with an empty OK, which the daemon confirms with its own
// empty OK (or reports failure with ERROR + remote_error).
import { Readable } from "node:stream";
import type { RpcConnection, StreamSink } from "./connection";
import { decodeRemoteError } from "./connection";
import { LibvirtError, LibvirtProtocolError, LibvirtTimeoutError } from "./errors";
import { type Frame, MessageStatus, MessageType, STREAM_CHUNK_MAX } from "./packet";
import type { XdrWriter } from "./xdr";

export interface StreamCall {
  prog: number;
  proc: number;
  label: string;
  writeArgs: (w: XdrWriter) => void;
  timeoutMs: number;
}

function streamError(f: Frame, label: string): Error {
  if (f.payload.length === 0) return new LibvirtProtocolError(`stream ${label} aborted by libvirtd without detail`);
  return new LibvirtError(decodeRemoteError(f.payload), label);
}

function isError(f: Frame): boolean {
  return f.header.status === MessageStatus.ERROR || f.header.type === MessageType.REPLY;
}

export type UploadSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

async function* chunks(src: UploadSource): AsyncGenerator<Uint8Array> {
  if (src instanceof Uint8Array) {
    yield src;
    return;
  }
  yield* src as AsyncIterable<Uint8Array>;
}

/** Sends all of `source`, then performs the finish handshake. Returns bytes sent. */
export async function uploadStream(conn: RpcConnection, c: StreamCall, source: UploadSource): Promise<number> {
  const serial = conn.nextSerial();
  let serverError: Error | undefined;
  let finished: ((f: Frame | Error) => void) | undefined;
  const sink: StreamSink = {
    onPacket: (f) => {
      if (finished) finished(isError(f) ? streamError(f, c.label) : f);
      else if (isError(f)) serverError = streamError(f, c.label);
    },
    onClose: (err) => {
      if (finished) finished(err);
      else serverError = err;
    },
  };
  conn.registerStream(serial, sink);
  try {
    await conn.call(c.prog, c.proc, c.writeArgs, () => undefined, { serial, timeoutMs: c.timeoutMs, label: c.label });
    let sent = 0;
    try {
      for await (const chunk of chunks(source)) {
        for (let off = 0; off < chunk.length; off += STREAM_CHUNK_MAX) {
          if (serverError) throw serverError;
          const part = chunk.subarray(off, Math.min(off + STREAM_CHUNK_MAX, chunk.length));
          await conn.sendStream(c.prog, c.proc, serial, MessageStatus.CONTINUE, part);
          sent += part.length;
        }
      }
    } catch (e) {
      // Tell the daemon to abandon the transfer rather than leave it waiting.
      if (conn.isOpen && e !== serverError) await conn.sendStream(c.prog, c.proc, serial, MessageStatus.ERROR).catch(() => undefined);
      throw e;
    }
    if (serverError) throw serverError;
    const done = new Promise<Frame | Error>((resolve) => {
      finished = resolve;
    });
    await conn.sendStream(c.prog, c.proc, serial, MessageStatus.OK);
    const outcome = await withTimeout(done, c.timeoutMs, `stream ${c.label} finish`);
    if (outcome instanceof Error) throw outcome;
    return sent;
  } finally {
    conn.unregisterStream(serial);
  }
}

/**
 * Starts a download and returns a Readable of the bytes. The daemon pushes
 * data as fast as it reads it; with `pauseWhenFull` the connection stops
 * reading while the Readable's buffer is full (bounded memory for a disk-sized
 * download; the connection must carry nothing else meanwhile), else we buffer
 * rather than stall a socket that carries other calls too.
 */
export async function downloadStream(conn: RpcConnection, c: StreamCall, pauseWhenFull = false): Promise<Readable> {
  const serial = conn.nextSerial();
  const out = new Readable({
    highWaterMark: 4 * STREAM_CHUNK_MAX,
    read: () => {
      if (pauseWhenFull) conn.resumeReading();
    },
  });
  const push = (bytes: Buffer): void => {
    if (!out.push(bytes) && pauseWhenFull) conn.pauseReading();
  };
  out.once("close", () => {
    // A consumer that gave up must not leave the connection deaf.
    if (pauseWhenFull) conn.resumeReading();
  });
  let state: "data" | "finishing" | "done" = "data";
  const finish = (err?: Error): void => {
    if (state === "done") return;
    state = "done";
    conn.unregisterStream(serial);
    if (err) out.destroy(err);
    else out.push(null);
  };
  conn.registerStream(serial, {
    onPacket: (f) => {
      if (state === "done") return;
      if (isError(f)) return finish(streamError(f, c.label));
      if (f.header.type === MessageType.STREAM_HOLE) {
        return finish(new LibvirtProtocolError(`sparse stream holes are not supported (${c.label})`));
      }
      if (f.header.status === MessageStatus.CONTINUE) {
        if (state !== "data") return;
        if (f.payload.length) {
          // A view into a receive buffer that gets reused is copied; a frame filled in place is not.
          push(f.owned ? f.payload : Buffer.from(f.payload));
          return;
        }
        // An empty CONTINUE is the daemon's end-of-data; we answer with the
        // finish request (empty OK) and wait for its empty-OK confirmation.
        state = "finishing";
        conn.sendStream(c.prog, c.proc, serial, MessageStatus.OK).catch((e: Error) => finish(e));
        return;
      }
      if (state === "finishing") finish();
      else finish(new LibvirtProtocolError(`stream ${c.label} ended before end-of-data`));
    },
    onClose: (err) => finish(err),
  });
  try {
    await conn.call(c.prog, c.proc, c.writeArgs, () => undefined, { serial, timeoutMs: c.timeoutMs, label: c.label });
  } catch (e) {
    finish(e as Error);
    throw e;
  }
  return out;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (ms <= 0) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new LibvirtTimeoutError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
