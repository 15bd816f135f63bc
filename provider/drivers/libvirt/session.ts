import type { HostConfig } from "../../core/hosts";
import { LibvirtClient, LibvirtError } from "./rpc";
import { redactUrlUserinfo } from "../../core/redact";

/**
 * One libvirt connection per host, reopened when the daemon drops it, so a long `pulumi up`
 * survives a libvirtd restart between operations.
 */
export class LibvirtSession {
  private client?: Promise<LibvirtClient>;

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
