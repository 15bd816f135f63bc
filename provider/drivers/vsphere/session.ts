// One host entry's view of vCenter: the shared vim25 session (soap/session.ts
// keeps one per endpoint and user per process) and the inventory objects the
// entry names, each resolved once and reused.
import { readFileSync } from "node:fs";
import type { HostConfig } from "../../core/hosts";
import { connect, InvalidLoginError, lookup, type MoRef, type VimClient } from "./soap";
import { resolveNetwork, resolvePlacement, type NetworkBinding, type Placement } from "./vm";
import { redactUrlUserinfo } from "../../core/redact";

export type VsphereHostConfig = Extract<HostConfig, { driver: "vsphere" }>;

export class VsphereSession {
  private readonly placements = new Map<string, Promise<Placement>>();
  private readonly networks = new Map<string, Promise<NetworkBinding>>();
  private hostRef?: Promise<MoRef | undefined>;
  /** Read once: every operation asks for the client. */
  private ca?: string;

  constructor(
    readonly host: string,
    readonly config: VsphereHostConfig,
  ) {}

  /** The logged-in client. Wrong credentials fail once here with the vCenter's refusal; nothing retries. */
  async client(): Promise<VimClient> {
    this.ca ??= this.config.caFile === undefined ? undefined : readCa(this.host, this.config.caFile);
    const ca = this.ca;
    try {
      return await connect({ url: this.config.url, username: this.config.username, password: this.config.password, insecure: this.config.insecure, ca });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const hint = error instanceof InvalidLoginError ? "; fix username/password of this entry in novacron:hosts" : "";
      throw new Error(`host "${this.host}": cannot log in to vSphere at ${redactUrlUserinfo(this.config.url)}: ${why}${hint}`, { cause: error });
    }
  }

  get datacenter(): string {
    return this.config.datacenter;
  }

  /** Where VMs of this entry go, with `datastore` as their home. */
  placement(datastore: string): Promise<Placement> {
    let found = this.placements.get(datastore);
    if (!found) {
      found = this.client().then((c) =>
        resolvePlacement(c, { datacenter: this.datacenter, folder: this.config.folder, resourcePool: this.poolPath(), datastore, host: this.hostPath() }),
      );
      found.catch(() => this.placements.delete(datastore));
      this.placements.set(datastore, found);
    }
    return found;
  }

  /** The VM folder only: finding a VM needs no datastore. */
  async folder(): Promise<MoRef> {
    return lookup(await this.client(), "folder", this.config.folder ?? "", this.datacenter);
  }

  async pool(): Promise<MoRef> {
    return lookup(await this.client(), "resourcePool", this.poolPath(), this.datacenter);
  }

  /** The pinned ESXi host, or undefined when DRS places VMs. */
  esxiHost(): Promise<MoRef | undefined> {
    if (!this.hostRef) {
      const path = this.hostPath();
      const found = path === undefined ? Promise.resolve(undefined) : this.client().then((c) => lookup(c, "host", path, this.datacenter));
      found.catch(() => (this.hostRef = undefined));
      this.hostRef = found;
    }
    return this.hostRef;
  }

  network(name: string): Promise<NetworkBinding> {
    let found = this.networks.get(name);
    if (!found) {
      found = this.client().then((c) => resolveNetwork(c, this.datacenter, name));
      found.catch(() => this.networks.delete(name));
      this.networks.set(name, found);
    }
    return found;
  }

  private poolPath(): string {
    const path = this.config.resourcePool ?? this.config.cluster ?? this.config.host;
    if (!path) throw new Error(`host "${this.host}": set cluster, resourcePool or host in its novacron:hosts entry so VMs have a resource pool`);
    return path;
  }

  private hostPath(): string | undefined {
    return pinnedHostPath(this.config);
  }
}

/** The inventory path of the ESXi host an entry pins; a bare host name is taken inside the cluster, as the vSphere UI shows it. */
export function pinnedHostPath(config: VsphereHostConfig): string | undefined {
  const h = config.host;
  if (h === undefined || h.includes("/") || config.cluster === undefined) return h;
  return `${config.cluster}/${h}`;
}

function readCa(host: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`host "${host}": cannot read caFile ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Endpoints compared without case, default port or trailing slash: two spellings of one vCenter are one vCenter. */
export function sameEndpoint(a: string, b: string): boolean {
  const norm = (u: string) => {
    const url = new URL(u);
    return `${url.protocol}//${url.hostname.toLowerCase()}:${url.port || (url.protocol === "https:" ? "443" : "80")}${url.pathname.replace(/\/+$/, "")}`;
  };
  return norm(a) === norm(b);
}
