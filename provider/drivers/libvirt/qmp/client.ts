import { EventEmitter } from "node:events";
import * as net from "node:net";
import { QmpConnectionError, QmpError, QmpProtocolError, QmpTimeoutError } from "./errors";
import { LineSplitter } from "./lines";
import type { QmpEvent, QmpGreeting, QmpTransport } from "./types";

export interface QmpConnectOptions {
  /** Deadline for connect + greeting + capability negotiation. */
  connectTimeoutMs?: number;
  /** Default deadline for each command; override per call. */
  commandTimeoutMs?: number;
}

export interface QmpExecuteOptions {
  timeoutMs?: number;
}

/** `close` carries the reason when the channel failed rather than being closed by us. */
export interface QmpClientEvents {
  event: [QmpEvent];
  close: [Error | undefined];
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A QMP session over a unix socket. Every command carries a numeric id so
 * callers may issue several without waiting; QEMU answers non-OOB commands in
 * order anyway, but matching by id keeps us correct if a reply is ever lost to
 * a timeout. Events arrive as `"event"` emissions (use `events.on(client,
 * "event")` for an async iterator).
 */
export class QmpClient extends EventEmitter<QmpClientEvents> implements QmpTransport {
  private readonly pending = new Map<number, Pending>();
  private readonly lines = new LineSplitter();
  private nextId = 1;
  private closedWith: Error | null = null;
  private greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | null = null;
  private greetingValue: QmpGreeting | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly commandTimeoutMs: number,
  ) {
    super();
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    // EOF is the first sign of QEMU dying; reacting to it (not only to
    // "close") is what makes pending commands fail promptly.
    socket.on("end", () => this.fail(new QmpConnectionError("QMP socket closed by QEMU")));
    socket.on("error", (err) => this.fail(new QmpConnectionError(`QMP socket error: ${err.message}`, { cause: err })));
    socket.on("close", () => this.fail(new QmpConnectionError("QMP socket closed")));
  }

  /** Connects, reads the greeting and leaves capability negotiation mode. */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const client = new QmpClient(net.createConnection(path), options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    const timer = setTimeout(() => client.fail(new QmpConnectionError(`QMP handshake on ${path} did not finish within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    try {
      const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
        client.greetingWaiter = { resolve, reject };
      });
      client.greetingValue = greeting;
      await client.execute("qmp_capabilities", undefined, { timeoutMs: connectTimeoutMs });
      return client;
    } catch (err) {
      client.socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get greeting(): QmpGreeting {
    if (!this.greetingValue) throw new QmpProtocolError("greeting not received yet");
    return this.greetingValue;
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Runs one command; resolves with its `return` value, rejects with QmpError on `error`. */
  execute<T = unknown>(command: string, args?: object, options: QmpExecuteOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late reply for this id is then dropped by onReply.
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the next event of that name (and matching `where`), or rejects on timeout/close. */
  waitForEvent(name: string, timeoutMs: number, where?: (e: QmpEvent) => boolean): Promise<QmpEvent> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off("event", onEvent);
        this.off("close", onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (e.event !== name || (where && !where(e))) return;
        cleanup();
        resolve(e);
      };
      const onClose = (err: Error | undefined): void => {
        cleanup();
        reject(err ?? new QmpConnectionError(`closed while waiting for ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpTimeoutError(`event ${name}`, timeoutMs));
      }, timeoutMs);
      this.on("event", onEvent);
      this.on("close", onClose);
    });
  }

  /**
   * Rejects every pending command, then drops the socket. No graceful
   * half-close: QMP has no goodbye, and a hung QEMU would never finish one.
   */
  async close(): Promise<void> {
    if (this.closedWith) return;
    const done = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.fail(new QmpConnectionError("QMP client closed"), true);
    this.socket.destroy();
    await done;
  }

  private onData(chunk: string): void {
    for (const line of this.lines.push(chunk)) {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        this.fail(new QmpProtocolError(`not QMP: ${line.slice(0, 200)}`));
        this.socket.destroy();
        return;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: unknown): void {
    if (!isRecord(msg)) return;
    if (isRecord(msg.QMP)) {
      const q = msg.QMP;
      const greeting: QmpGreeting = {
        version: q.version as QmpGreeting["version"],
        capabilities: Array.isArray(q.capabilities) ? (q.capabilities as string[]) : [],
      };
      this.greetingWaiter?.resolve(greeting);
      this.greetingWaiter = null;
      return;
    }
    if (typeof msg.event === "string") {
      const ts = isRecord(msg.timestamp) ? msg.timestamp : {};
      this.emit("event", {
        event: msg.event,
        data: isRecord(msg.data) ? msg.data : {},
        timestamp: { seconds: Number(ts.seconds ?? 0), microseconds: Number(ts.microseconds ?? 0) },
      });
      return;
    }
    // Replies without our numeric id (e.g. to unparsable input) cannot be
    // attributed to a caller; we never send such input, so drop them.
    if (typeof msg.id !== "number") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (isRecord(msg.error)) {
      p.reject(new QmpError(p.command, String(msg.error.class), String(msg.error.desc)));
    } else {
      p.resolve(msg.return);
    }
  }

  /** Idempotent: the first reason wins, everything waiting is rejected with it. */
  private fail(reason: Error, byUs = false): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    this.greetingWaiter?.reject(reason);
    this.greetingWaiter = null;
    if (!byUs) this.socket.destroy();
    this.emit("close", byUs ? undefined : reason);
  }
}
