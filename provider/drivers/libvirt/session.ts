import type { HostConfig } from "../../core/hosts";
import { type DomainRef, LibvirtClient, LibvirtError } from "./rpc";
import { redactUrlUserinfo } from "../../core/redact";

/** A domain as the host's list had it: its reference and virDomainState. */
export interface ListedDomain {
  dom: DomainRef;
  state: number;
}

/** How long one host-wide domain list answers every read (a refresh reads all VMs at once). */
export const DOMAIN_LIST_WINDOW_MS = 2000;
/** virDomainStatsTypes STATE, and GET_ALL_DOMAINS_STATS_NOWAIT (a busy domain holds up no one). */
const STATS_STATE = 1;
const STATS_NOWAIT = 1 << 29;

/**
 * One libvirt connection per host, reopened when the daemon drops it, so a long `pulumi up`
 * survives a libvirtd restart between operations.
 */
export class LibvirtSession {
  private client?: Promise<LibvirtClient>;
  private domainList?: { at: number; list: Promise<Map<string, ListedDomain>> };
  /** How many host-wide domain lists were fetched (one per window, whatever the number of reads). */
  domainListFetches = 0;

  constructor(
    readonly host: string,
    readonly uri: string,
  ) {}

  static fromConfig(host: string, config: HostConfig): LibvirtSession {
    if (config.driver !== "libvirt") throw new Error(`host "${host}" is a ${config.driver} host, not libvirt`);
    return new LibvirtSession(host, config.uri);
  }

  async get(): Promise<LibvirtClient> {
    if (this.client) {
      const current = await this.client.catch(() => undefined);
      if (current?.isOpen) return current;
    }
    this.client = LibvirtClient.connect(this.uri, { callTimeoutMs: 120_000 }).catch((error: unknown) => {
      this.client = undefined;
      throw new Error(
        `host "${this.host}": cannot connect to libvirt at ${redactUrlUserinfo(this.uri)}: ${redactUrlUserinfo(error instanceof Error ? error.message : String(error))}`,
      );
    });
    return this.client;
  }

  /**
   * Every domain on the host with its state, from one round trip, shared by all reads within
   * DOMAIN_LIST_WINDOW_MS: refreshing N VMs costs one list instead of N lookups and N state
   * calls. A domain missing from the list is looked up directly by the caller (it may be newer
   * than the list), so the list can make a read faster but never wrong about existence.
   */
  domainsRecently(): Promise<Map<string, ListedDomain>> {
    const now = Date.now();
    if (this.domainList && now - this.domainList.at < DOMAIN_LIST_WINDOW_MS) return this.domainList.list;
    const list = this.get().then(async (client) => {
      const { retStats } = await client.call("connectGetAllDomainStats", { doms: [], stats: STATS_STATE, flags: STATS_NOWAIT });
      const byUuid = new Map<string, ListedDomain>();
      for (const { dom, params } of retStats) {
        const state = params.find((p) => p.field === "state.state")?.value;
        byUuid.set(dom.uuid, { dom, state: typeof state === "number" ? state : 0 });
      }
      return byUuid;
    });
    this.domainListFetches++;
    this.domainList = { at: now, list };
    list.catch(() => {
      if (this.domainList?.list === list) this.domainList = undefined;
    });
    return list;
  }

  /** Forgets the shared list after this process changed a domain, so its next read is fresh. */
  forgetDomains(): void {
    this.domainList = undefined;
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    await client?.close();
  }
}

/** Runs a lookup and turns libvirt's "no such object" into undefined. */
export async function orAbsent<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof LibvirtError && error.isNotFound()) return undefined;
    throw error;
  }
}

/** Runs a teardown step and ignores "already gone" / "not running". */
export async function tolerateGone(step: Promise<unknown>): Promise<void> {
  try {
    await step;
  } catch (error) {
    if (error instanceof LibvirtError && (error.isNotFound() || error.isOperationInvalid())) return;
    throw error;
  }
}
