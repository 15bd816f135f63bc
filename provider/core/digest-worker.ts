import { Worker } from "node:worker_threads";
import { CHUNK } from "./disk-image";

/**
 * The guest digest of disk-image.ts (sha256 over per-CHUNK sha256s), computed on a worker thread
 * so hashing a disk runs beside the transfer instead of taking turns with it (TLS, libvirt frames
 * and file I/O all run on the main thread). Bytes cross in a fixed ring of SLOTS shared CHUNK-sized
 * slots: one copy each, no allocation per piece, at most SLOTS × CHUNK bytes in flight; `update`
 * waits for a free slot. Same result as ChunkDigest (tested).
 */
const SLOTS = 8;

// Plain JavaScript, evaluated in the worker: the same chunking as ChunkDigest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const CHUNK = ${CHUNK};
const ring = new Uint8Array(workerData);
const outer = createHash("sha256");
let inner = createHash("sha256");
let pending = 0;
parentPort.on("message", (m) => {
  if (m === "finish") {
    if (pending > 0) outer.update(inner.digest());
    parentPort.postMessage({ sha256: outer.digest("hex") });
    return;
  }
  const bytes = ring.subarray(m.slot * CHUNK, m.slot * CHUNK + m.length);
  for (let at = 0; at < bytes.length; ) {
    const take = Math.min(CHUNK - pending, bytes.length - at);
    inner.update(bytes.subarray(at, at + take));
    pending += take;
    at += take;
    if (pending === CHUNK) {
      outer.update(inner.digest());
      inner = createHash("sha256");
      pending = 0;
    }
  }
  parentPort.postMessage({ free: m.slot });
});
`;

export class WorkerDigest {
  private readonly shared = new SharedArrayBuffer(SLOTS * CHUNK);
  private readonly ring = new Uint8Array(this.shared);
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.shared });
  private readonly free: number[] = Array.from({ length: SLOTS }, (_, i) => i);
  private waiting: (() => void) | undefined;
  /** The slot being filled, not yet handed to the worker. */
  private filling: { slot: number; length: number } | undefined;
  private result: ((sha256: string) => void) | undefined;
  private failure: Error | undefined;
  private failed: ((e: Error) => void) | undefined;

  constructor() {
    this.worker.on("message", (m: { free?: number; sha256?: string }) => {
      if (m.free !== undefined) {
        this.free.push(m.free);
        this.wake();
      } else if (m.sha256 !== undefined) this.result?.(m.sha256);
    });
    this.worker.on("error", (e: Error) => {
      this.failure = e;
      this.failed?.(e);
      this.wake();
    });
  }

  /**
   * Copies `bytes` into the ring, a slot at a time, and hands the worker each slot once it is full
   * (one message per CHUNK, whatever size the pieces arrive in: a message costs far more than the
   * bytes). Synchronous while slots are free; a promise only when it must wait for the worker.
   */
  update(bytes: Buffer): Promise<void> | undefined {
    let at: number;
    try {
      at = this.fill(bytes, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    return at < bytes.length ? this.updateWaiting(bytes, at) : undefined;
  }

  private async updateWaiting(bytes: Buffer, from: number): Promise<void> {
    for (let at = from; at < bytes.length; ) {
      await new Promise<void>((resolve) => (this.waiting = resolve));
      at = this.fill(bytes, at);
    }
  }

  /** Fills slots from `bytes[at…]` while any is free; returns how far it got. */
  private fill(bytes: Buffer, at: number): number {
    while (at < bytes.length) {
      if (this.failure) throw this.failure;
      if (!this.filling) {
        const slot = this.free.pop();
        if (slot === undefined) return at;
        this.filling = { slot, length: 0 };
      }
      const f = this.filling;
      const n = Math.min(CHUNK - f.length, bytes.length - at);
      this.ring.set(bytes.subarray(at, at + n), f.slot * CHUNK + f.length);
      f.length += n;
      at += n;
      if (f.length === CHUNK) this.post();
    }
    return at;
  }

  /** Hands the slot being filled to the worker. */
  private post(): void {
    if (!this.filling) return;
    this.worker.postMessage(this.filling);
    this.filling = undefined;
  }

  /** The digest of everything given; messages are handled in order, so every slot was hashed. */
  async finish(): Promise<string> {
    try {
      if (this.failure) throw this.failure;
      return await new Promise<string>((resolve, reject) => {
        this.result = resolve;
        this.failed = reject;
        this.post();
        this.worker.postMessage("finish");
      });
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a result (a move that failed). */
  async abandon(): Promise<void> {
    await this.worker.terminate();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
