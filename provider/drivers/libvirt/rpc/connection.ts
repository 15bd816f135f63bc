// One libvirt RPC connection over any byte stream (unix, TCP, TLS, SSH
// channel). Calls are multiplexed by serial so many can be in flight at once;
// replies, asynchronous event messages, stream packets and keepalive pings are
// demultiplexed here. Any transport failure rejects every pending call at
// once, so callers never hang on a dead daemon.
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { decode } from "./codec";
import { LibvirtConnectionError, LibvirtError, LibvirtProtocolError, LibvirtTimeoutError } from "./errors";
import { type Frame, FrameDecoder, FrameError, KEEPALIVE_PROGRAM, KeepaliveProc, MessageStatus, MessageType, PROTOCOL_VERSION, buildFrame, buildRawFrame } from "./packet";
import { remoteError } from "./types";
import type { Transport } from "./transport";
import { XdrError, XdrWriter } from "./xdr";

export interface RpcConnectionOptions {
  /** Default per-call deadline; 0 disables. */
  callTimeoutMs?: number;
  /** Idle time before we ping the daemon. */
  keepaliveIntervalMs?: number;
  /** Missed intervals before the peer is declared dead. */
  keepaliveCount?: number;
  /**
   * Most ordinary calls on the wire at once (default 4). libvirtd answers a
   * client's sixth concurrent request with nothing until one finishes
   * (max_client_requests = 5 by default), so a larger burst waits here, where
   * its deadline has not started, and one slot stays free for urgent calls.
   */
  maxCallsInFlight?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  /** Use a serial reserved with nextSerial() (stream procedures need it early). */
  serial?: number;
  label?: string;
  /** Skips the queue (e.g. aborting a job that holds the other slots). */
  urgent?: boolean;
}

interface PendingCall {
  prog: number;
  /** Runs synchronously on the receive buffer, which may be reused afterwards. */
  decode: (payload: Buffer) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Epoch ms after which the call fails; 0 = no deadline. */
  deadline: number;
  timeoutMs: number;
  label: string;
  /** Holds one of the maxCallsInFlight slots until the daemon answers. */
  queued: boolean;
}

interface WaitingCall {
  serial: number;
  frame: Buffer;
  call: PendingCall;
}

/** Granularity of per-call deadlines: one shared sweep instead of a timer per call. */
const SWEEP_MS = 25;

/** Receives the STREAM packets (and a stream-ending REPLY) for one serial. */
export interface StreamSink {
  onPacket(frame: Frame): void;
  onClose(err: Error): void;
}

export class RpcConnection extends EventEmitter {
  private serial = 0;
  private readonly pending = new Map<number, PendingCall>();
  private readonly streams = new Map<number, StreamSink>();
  private readonly decoder = new FrameDecoder();
  private failure: Error | null = null;
  private writesThisTick = 0;
  /** Calls are encoded here, then copied out at their exact size. */
  private readonly scratch = new XdrWriter(4096);
  private lastRx = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly callTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly keepaliveCount: number;
  private readonly maxCallsInFlight: number;
  /** Slot-holding calls the daemon is still working on (timed-out ones included). */
  private slotsInUse = 0;
  /** Serials that timed out here but still occupy a slot on the daemon. */
  private readonly abandoned = new Set<number>();
  private readonly waiting: WaitingCall[] = [];
  private waitingHead = 0;
  private peakInFlight = 0;
  private readonly closed: Promise<void>;

  private readonly socket: Duplex;
  private readonly borrowedReads: boolean;
  /** Reading is paused for a stream consumer that is behind; silence is then ours, not the daemon's. */
  private readingPaused = false;

  constructor(transport: Transport, opts: RpcConnectionOptions = {}) {
    super();
    const socket = transport.stream;
    this.socket = socket;
    this.borrowedReads = transport.attachReader !== undefined;
    this.callTimeoutMs = opts.callTimeoutMs ?? 120_000;
    this.keepaliveIntervalMs = opts.keepaliveIntervalMs ?? 5_000;
    this.keepaliveCount = opts.keepaliveCount ?? 5;
    this.maxCallsInFlight = Math.max(1, opts.maxCallsInFlight ?? 4);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    if (transport.attachReader) transport.attachReader((chunk) => this.onData(chunk));
    else socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err: Error) => this.fail(new LibvirtConnectionError(`libvirt connection error: ${err.message}`, { cause: err })));
    socket.on("end", () => this.fail(new LibvirtConnectionError("libvirt connection closed by the server")));
    socket.on("close", () => this.fail(new LibvirtConnectionError("libvirt connection closed")));
  }

  get isOpen(): boolean {
    return this.failure === null;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Calls waiting for a wire slot. */
  get queued(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** The most slot-holding calls that were ever on the wire at once. */
  get peakCallsInFlight(): number {
    return this.peakInFlight;
  }

  nextSerial(): number {
    this.serial = (this.serial + 1) >>> 0;
    if (this.serial === 0) this.serial = 1;
    return this.serial;
  }

  /**
   * Sends a CALL and resolves with `decode(replyPayload)`; a server error
   * rejects with LibvirtError. Decoding happens as the reply arrives, straight
   * from the receive buffer, so replies cost no intermediate copies.
   */
  call<T>(prog: number, proc: number, writeArgs: ((w: XdrWriter) => void) | undefined, decode: (payload: Buffer) => T, opts: CallOptions = {}): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const serial = opts.serial ?? this.nextSerial();
    const label = opts.label ?? `${prog.toString(16)}:${proc}`;
    let frame: Buffer;
    try {
      frame = buildFrame({ prog, vers: PROTOCOL_VERSION, proc, type: MessageType.CALL, serial, status: MessageStatus.OK }, writeArgs, this.scratch);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.callTimeoutMs;
      const queued = opts.urgent !== true;
      const call: PendingCall = { prog, decode, resolve: resolve as (v: unknown) => void, reject, deadline: 0, timeoutMs, label, queued };
      if (queued && this.slotsInUse >= this.maxCallsInFlight) this.waiting.push({ serial, frame, call });
      else this.send(serial, frame, call);
    });
  }

  /** Puts a call on the wire; its deadline starts now, not when it was queued. */
  private send(serial: number, frame: Buffer, call: PendingCall): void {
    if (call.timeoutMs > 0) call.deadline = Date.now() + call.timeoutMs;
    if (call.queued) {
      this.slotsInUse++;
      if (this.slotsInUse > this.peakInFlight) this.peakInFlight = this.slotsInUse;
    }
    this.pending.set(serial, call);
    if (call.deadline && !this.sweepTimer) this.armSweep();
    this.write(frame);
  }

  /** A slot came free (the daemon answered): the oldest waiting call goes out. */
  private releaseSlot(): void {
    this.slotsInUse--;
    if (this.failure) return;
    while (this.slotsInUse < this.maxCallsInFlight && this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead++] as WaitingCall;
      this.send(next.serial, next.frame, next.call);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
  }

  private armSweep(): void {
    this.sweepTimer = setTimeout(this.sweep, SWEEP_MS);
    this.sweepTimer.unref();
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = Date.now();
    let more = false;
    for (const [serial, call] of this.pending) {
      if (!call.deadline) continue;
      if (call.deadline <= now) {
        this.pending.delete(serial);
        // libvirtd still works on it and counts it against our limit: the
        // slot is freed by its late reply, not by our giving up.
        if (call.queued) this.abandoned.add(serial);
        call.reject(new LibvirtTimeoutError(`libvirt call ${call.label} timed out after ${call.timeoutMs} ms`));
      } else {
        more = true;
      }
    }
    if (more && !this.failure) this.armSweep();
  };

  registerStream(serial: number, sink: StreamSink): void {
    if (this.failure) {
      sink.onClose(this.failure);
      return;
    }
    this.streams.set(serial, sink);
  }

  unregisterStream(serial: number): void {
    this.streams.delete(serial);
  }

  /** Sends a STREAM packet; resolves once the transport accepted it (back-pressure). */
  async sendStream(prog: number, proc: number, serial: number, status: number, data?: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const ok = this.write(buildRawFrame({ prog, vers: PROTOCOL_VERSION, proc, type: MessageType.STREAM, serial, status }, data));
    if (!ok) await this.drain();
  }

  private drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.off("failed", onFail);
        resolve();
      };
      const onFail = (e: Error): void => {
        this.socket.off("drain", onDrain);
        reject(e);
      };
      this.socket.once("drain", onDrain);
      this.once("failed", onFail);
    });
  }

  /**
   * Stops reading from the transport, so a download stream's consumer sets the pace (TCP then
   * holds libvirtd back) instead of its bytes piling up here. Every other call on this
   * connection waits meanwhile: pause only a connection opened for the transfer.
   */
  pauseReading(): void {
    if (this.readingPaused || this.failure) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.lastRx = Date.now();
    this.socket.resume();
  }

  /**
   * Pings the daemon when idle and declares it dead after `count` silent
   * intervals. Only enabled once the daemon agreed to the keepalive program;
   * older daemons would treat our pings as unknown calls.
   */
  startKeepalive(): void {
    if (this.keepaliveTimer || this.keepaliveIntervalMs <= 0) return;
    const tick = Math.max(50, Math.floor(this.keepaliveIntervalMs / 2));
    this.keepaliveTimer = setInterval(() => {
      if (this.readingPaused) this.lastRx = Date.now();
      const idle = Date.now() - this.lastRx;
      if (idle >= this.keepaliveIntervalMs * (this.keepaliveCount + 1)) {
        this.destroy(new LibvirtConnectionError(`libvirtd did not answer keepalive for ${idle} ms; connection considered dead`));
      } else if (idle >= this.keepaliveIntervalMs) {
        this.sendKeepalive(KeepaliveProc.PING);
      }
    }, tick);
    this.keepaliveTimer.unref();
  }

  private sendKeepalive(proc: number): void {
    if (this.failure) return;
    this.write(buildRawFrame({ prog: KEEPALIVE_PROGRAM, vers: PROTOCOL_VERSION, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK }));
  }

  private write(buf: Buffer): boolean {
    // The first frame of a tick goes straight out (lowest latency for a lone
    // call); any further frames in the same tick are corked and leave in one
    // transport write, so a burst of concurrent calls costs one syscall.
    if (this.writesThisTick === 0) {
      process.nextTick(this.endTick);
    } else if (this.writesThisTick === 1) {
      this.socket.cork();
    }
    this.writesThisTick++;
    return this.socket.write(buf);
  }

  private readonly endTick = (): void => {
    if (this.writesThisTick > 1) this.socket.uncork();
    this.writesThisTick = 0;
  };

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.lastRx = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk, this.borrowedReads);
    } catch (e) {
      const msg = e instanceof FrameError ? e.message : String(e);
      this.destroy(new LibvirtProtocolError(`malformed data from libvirtd: ${msg}`, { cause: e }));
      return;
    }
    for (const f of frames) {
      if (this.failure) return;
      try {
        this.dispatch(f);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.destroy(new LibvirtProtocolError(`malformed message from libvirtd: ${msg}`, { cause: e }));
        return;
      }
    }
  }

  private dispatch(f: Frame): void {
    const h = f.header;
    if (h.prog === KEEPALIVE_PROGRAM) {
      if (h.proc === KeepaliveProc.PING) this.sendKeepalive(KeepaliveProc.PONG);
      return;
    }
    if (h.vers !== PROTOCOL_VERSION) throw new LibvirtProtocolError(`unsupported protocol version ${h.vers}`);
    switch (h.type) {
      case MessageType.REPLY:
      case MessageType.REPLY_WITH_FDS: {
        const call = this.pending.get(h.serial);
        if (!call) {
          if (this.abandoned.delete(h.serial)) this.releaseSlot();
          // A stream's final error arrives as a REPLY on the stream's serial.
          this.streams.get(h.serial)?.onPacket(f);
          // Otherwise: a late reply to a call that already timed out.
          return;
        }
        if (call.prog !== h.prog) throw new LibvirtProtocolError(`reply for serial ${h.serial} names program ${h.prog.toString(16)}`);
        this.pending.delete(h.serial);
        if (call.queued) this.releaseSlot();
        if (h.status === MessageStatus.OK) {
          let value: unknown;
          try {
            value = call.decode(f.payload);
          } catch (e) {
            const err = e instanceof XdrError ? new LibvirtProtocolError(`cannot decode reply to ${call.label}: ${e.message}`, { cause: e }) : (e as Error);
            call.reject(err);
            throw err;
          }
          call.resolve(value);
        } else {
          // The call is already off the pending map: it must be settled here
          // even when the error record itself is garbage.
          let err: Error;
          try {
            err =
              h.status === MessageStatus.ERROR
                ? new LibvirtError(decodeRemoteError(f.payload), call.label)
                : new LibvirtProtocolError(`reply to ${call.label} has invalid status ${h.status}`);
          } catch (e) {
            err = e instanceof Error ? e : new LibvirtProtocolError(String(e));
          }
          call.reject(err);
          if (!(err instanceof LibvirtError)) throw err;
        }
        return;
      }
      case MessageType.STREAM:
      case MessageType.STREAM_HOLE:
        this.streams.get(h.serial)?.onPacket(f);
        return;
      case MessageType.MESSAGE:
        // Listeners run synchronously; the payload is only valid until they return.
        this.emit("message", f);
        return;
      default:
        throw new LibvirtProtocolError(`unexpected message type ${h.type}`);
    }
  }

  /** Marks the connection failed and rejects everything outstanding. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) c.reject(err);
    const waiting = this.waiting.slice(this.waitingHead);
    this.waiting.length = 0;
    this.waitingHead = 0;
    for (const w of waiting) w.call.reject(err);
    const sinks = [...this.streams.values()];
    this.streams.clear();
    for (const s of sinks) s.onClose(err);
    this.emit("failed", err);
    this.emit("closed", err);
  }

  /** Tears the transport down immediately with the given reason. */
  destroy(err: Error = new LibvirtConnectionError("libvirt connection closed by client")): void {
    this.fail(err);
    this.socket.destroy();
  }

  /** Graceful end: flush what was written, then close. */
  async end(graceMs = 2000): Promise<void> {
    this.fail(new LibvirtConnectionError("libvirt connection closed by client"));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    await this.closed;
    clearTimeout(timer);
  }
}

export function decodeRemoteError(payload: Buffer): ReturnType<typeof remoteError.dec> {
  try {
    return decode(remoteError, payload, "remote_error");
  } catch (e) {
    if (e instanceof XdrError) throw new LibvirtProtocolError(`undecodable error record: ${e.message}`, { cause: e });
    throw e;
  }
}
