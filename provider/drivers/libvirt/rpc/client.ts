// The typed facade: `call(name, args)` for every procedure in the table, plus
// the few operations that are not a single request/response (streams, events).
import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { decode } from "./codec";
import { RpcConnection, type CallOptions, type RpcConnectionOptions } from "./connection";
import { LibvirtConnectionError, LibvirtProtocolError } from "./errors";
import { type Frame, REMOTE_PROGRAM } from "./packet";
import {
  DOMAIN_EVENT_ID_JOB_COMPLETED,
  DOMAIN_EVENT_ID_LIFECYCLE,
  FEATURE_PROGRAM_KEEPALIVE,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
  domainJobCompletedMsg,
  domainLifecycleMsg,
  procedures,
  type ArgsOf,
  type ProcDef,
  type ProcName,
  type RetOf,
} from "./procedures";
import { downloadStream, uploadStream, type UploadSource } from "./stream";
import { openTransport, type TransportOptions } from "./transport";
import type { DomainRef, StorageVolRef, TypedParam } from "./types";
import { parseLibvirtUri, type LibvirtUri } from "./uri";

export interface ConnectOptions extends RpcConnectionOptions, TransportOptions {
  readOnly?: boolean;
  /** Negotiate libvirt keepalive (default true). */
  keepalive?: boolean;
}

// virDomainEventType names, indexed by value.
export const DOMAIN_EVENT_NAMES = ["defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown", "pmsuspended", "crashed"] as const;

export interface DomainLifecycleEvent {
  callbackID: number;
  domain: DomainRef;
  event: number;
  eventName: string;
  detail: number;
}

/** A finished job's figures, as libvirt sends them when the job ends ('domainJobCompleted'). */
export interface DomainJobCompletedEvent {
  callbackID: number;
  domain: DomainRef;
  params: TypedParam[];
}

const AUTH_NONE = 0;
const AUTH_POLKIT = 2;
const CONNECT_RO = 1;

/**
 * Procedures that skip the call queue: aborting a job must not wait behind
 * the calls that job keeps busy, and closing must not wait behind calls that
 * never return (keepalive frames bypass the queue by construction).
 */
const URGENT_PROCEDURES: ReadonlySet<ProcName> = new Set<ProcName>(["domainAbortJob", "connectClose"]);

export class LibvirtClient extends EventEmitter {
  private constructor(
    readonly uri: LibvirtUri,
    readonly conn: RpcConnection,
    private readonly callTimeoutMs: number,
  ) {
    super();
    conn.on("message", (f: Frame) => this.onMessage(f));
    conn.on("closed", (err: Error) => this.emit("closed", err));
  }

  static async connect(uriText: string, opts: ConnectOptions = {}): Promise<LibvirtClient> {
    const uri = parseLibvirtUri(uriText);
    const transport = await openTransport(uri, opts);
    const conn = new RpcConnection(transport, opts);
    const client = new LibvirtClient(uri, conn, opts.callTimeoutMs ?? 120_000);
    try {
      await client.handshake(opts);
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return client;
  }

  private async handshake(opts: ConnectOptions): Promise<void> {
    // A daemon that accepts the socket but never answers must not hold the
    // caller for the long per-call default.
    const t = { timeoutMs: opts.connectTimeoutMs ?? 15_000 };
    const { types } = await this.call("authList", undefined, t);
    if (!types.includes(AUTH_NONE)) {
      if (types.includes(AUTH_POLKIT)) {
        const { complete } = await this.call("authPolkit", undefined, t);
        if (!complete) throw new LibvirtConnectionError(`polkit authentication to ${this.uri.raw} did not complete`);
      } else {
        throw new LibvirtConnectionError(`${this.uri.raw} requires an authentication method this client lacks (offered: ${types.join(",")})`);
      }
    }
    if (opts.keepalive !== false) {
      const { supported } = await this.call("connectSupportsFeature", { feature: FEATURE_PROGRAM_KEEPALIVE }, t);
      if (supported) this.conn.startKeepalive();
    }
    await this.call("connectOpen", { name: this.uri.serverName, flags: opts.readOnly ? CONNECT_RO : 0 }, t);
  }

  /** Invokes one procedure from the table with typed arguments and result. */
  async call<K extends ProcName>(name: K, args: ArgsOf<K>, opts?: CallOptions): Promise<RetOf<K>>;
  async call<K extends ProcName>(name: K, ...rest: ArgsOf<K> extends void ? [] : never): Promise<RetOf<K>>;
  async call<K extends ProcName>(name: K, args?: ArgsOf<K>, opts: CallOptions = {}): Promise<RetOf<K>> {
    const def = procedures[name] as unknown as ProcDef<ArgsOf<K>, RetOf<K>>;
    return this.conn.call(
      def.prog,
      def.proc,
      (w) => def.args.enc(w, args as ArgsOf<K>),
      (payload) => decode(def.ret, payload, name),
      { ...opts, label: opts.label ?? name, urgent: opts.urgent ?? URGENT_PROCEDURES.has(name) },
    );
  }

  /** QMP (or HMP with flags=1) passthrough to a running QEMU domain. */
  async qemuMonitorCommand(dom: DomainRef, cmd: string | object, flags = 0): Promise<string> {
    const text = typeof cmd === "string" ? cmd : JSON.stringify(cmd);
    return (await this.call("qemuDomainMonitorCommand", { dom, cmd: text, flags })).result;
  }

  /** Uploads bytes into a volume; resolves with the byte count once libvirtd confirmed the finish. */
  volUpload(vol: StorageVolRef, source: UploadSource, o: { offset?: bigint; length?: bigint; flags?: number } = {}): Promise<number> {
    const def = procedures.storageVolUpload;
    return uploadStream(
      this.conn,
      {
        prog: def.prog,
        proc: def.proc,
        label: "storageVolUpload",
        timeoutMs: this.callTimeoutMs,
        writeArgs: (w) => def.args.enc(w, { vol, offset: o.offset ?? 0n, length: o.length ?? 0n, flags: o.flags ?? 0 }),
      },
      source,
    );
  }

  /**
   * Downloads a volume's bytes as a Readable; it ends after the finish handshake. With
   * `pauseWhenFull` a slow consumer pauses this whole connection (bounded memory): use it only
   * on a connection opened for the download.
   */
  volDownload(vol: StorageVolRef, o: { offset?: bigint; length?: bigint; flags?: number; pauseWhenFull?: boolean } = {}): Promise<Readable> {
    const def = procedures.storageVolDownload;
    return downloadStream(
      this.conn,
      {
        prog: def.prog,
        proc: def.proc,
        label: "storageVolDownload",
        timeoutMs: this.callTimeoutMs,
        writeArgs: (w) => def.args.enc(w, { vol, offset: o.offset ?? 0n, length: o.length ?? 0n, flags: o.flags ?? 0 }),
      },
      o.pauseWhenFull === true,
    );
  }

  async volDownloadToBuffer(vol: StorageVolRef, o: { offset?: bigint; length?: bigint } = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await this.volDownload(vol, o)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  /**
   * Subscribes to domain lifecycle events ('domainLifecycle' on this client);
   * returns a function that deregisters the callback on the daemon.
   */
  async subscribeDomainLifecycle(dom: DomainRef | null = null): Promise<() => Promise<void>> {
    return this.subscribe(DOMAIN_EVENT_ID_LIFECYCLE, dom);
  }

  /**
   * Subscribes to job-completed events ('domainJobCompleted'): the only record of a migration
   * that ended in post-copy, after which neither host keeps the job's figures.
   */
  async subscribeDomainJobCompleted(dom: DomainRef | null = null): Promise<() => Promise<void>> {
    return this.subscribe(DOMAIN_EVENT_ID_JOB_COMPLETED, dom);
  }

  private async subscribe(eventID: number, dom: DomainRef | null): Promise<() => Promise<void>> {
    const { callbackID } = await this.call("connectDomainEventCallbackRegisterAny", { eventID, dom });
    return async () => {
      if (this.conn.isOpen) await this.call("connectDomainEventCallbackDeregisterAny", { callbackID });
    };
  }

  private onMessage(f: Frame): void {
    if (f.header.prog !== REMOTE_PROGRAM) return;
    if (f.header.proc === REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE) {
      let m: ReturnType<typeof domainLifecycleMsg.dec>;
      try {
        m = decode(domainLifecycleMsg, f.payload, "domain lifecycle event");
      } catch (e) {
        this.conn.destroy(new LibvirtProtocolError(`malformed lifecycle event: ${(e as Error).message}`, { cause: e }));
        return;
      }
      const ev: DomainLifecycleEvent = {
        callbackID: m.callbackID,
        domain: m.msg.dom,
        event: m.msg.event,
        eventName: DOMAIN_EVENT_NAMES[m.msg.event] ?? `event-${m.msg.event}`,
        detail: m.msg.detail,
      };
      // Decoded now (the frame's buffer is reused), delivered on the next
      // tick: a throwing listener must not look like a protocol fault and
      // tear down the connection. nextTick keeps events in arrival order.
      process.nextTick(() => this.emit("domainLifecycle", ev));
    } else if (f.header.proc === REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED) {
      let m: ReturnType<typeof domainJobCompletedMsg.dec>;
      try {
        m = decode(domainJobCompletedMsg, f.payload, "domain job completed event");
      } catch (e) {
        this.conn.destroy(new LibvirtProtocolError(`malformed job completed event: ${(e as Error).message}`, { cause: e }));
        return;
      }
      const ev: DomainJobCompletedEvent = { callbackID: m.callbackID, domain: m.dom, params: m.params };
      process.nextTick(() => this.emit("domainJobCompleted", ev));
    } else {
      this.emit("message", f);
    }
  }

  get isOpen(): boolean {
    return this.conn.isOpen;
  }

  /** Closes the libvirt connection politely, then the transport. */
  async close(): Promise<void> {
    if (!this.conn.isOpen) return;
    try {
      await this.call("connectClose", undefined, { timeoutMs: 2000 });
    } catch {
      // The daemon may already be gone; closing must still succeed.
    }
    await this.conn.end();
  }
}
