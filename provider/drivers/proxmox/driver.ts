import type { Driver, HostCapabilities, ResourceDriver } from "../../core/driver";
import type { HostConfig } from "../../core/hosts";
import type { ResourceKind, SpecOf } from "../../core/model";
import { PveClient, type PveAuth } from "./api/client";
import { PROXMOX_CAPABILITIES } from "./capabilities";
import { ProxmoxBackupResource } from "./resources/backup";
import { ProxmoxVolumeResource } from "./resources/volume";
import { ProxmoxContainerResource } from "./resources/container";
import { ProxmoxNetworkResource } from "./resources/network";
import { ProxmoxPassthroughResource } from "./resources/passthrough";
import { ProxmoxSnapshotResource } from "./resources/snapshot";
import { ProxmoxStorageResource } from "./resources/storage";
import { ProxmoxVmResource } from "./resources/vm";

type Resources = { [K in ResourceKind]?: ResourceDriver<SpecOf<K>> };
type ProxmoxConfig = Extract<HostConfig, { driver: "proxmox" }>;

/**
 * Proxmox VE through its REST API (/api2/json), one node per host entry. Credentials come only
 * from the entry (stack config); the client never puts them in an error or a progress line.
 */
export class ProxmoxDriver implements Driver {
  readonly kind = "proxmox" as const;
  private readonly resources: Resources;

  constructor(
    readonly host: string,
    readonly config: HostConfig,
    readonly client: PveClient,
    readonly node: string,
  ) {
    this.resources = {
      VirtualMachine: new ProxmoxVmResource(client, node),
      Snapshot: new ProxmoxSnapshotResource(client, node),
      StoragePool: new ProxmoxStorageResource(client, node),
      Container: new ProxmoxContainerResource(client, node),
      Backup: new ProxmoxBackupResource(client, node),
      Volume: new ProxmoxVolumeResource(client, node),
      Network: new ProxmoxNetworkResource(client, node),
      PassthroughDevice: new ProxmoxPassthroughResource(client, node),
    };
  }

  async hostCapabilities(): Promise<HostCapabilities> {
    const [version, status] = await Promise.all([
      this.client.get<{ version: string }>("/version"),
      this.client.get<{ cpuinfo?: { cpus?: number }; memory?: { total?: number } }>(`/nodes/${this.node}/status`),
    ]);
    return {
      host: this.host,
      driver: "proxmox",
      hypervisor: "Proxmox VE",
      version: version.version,
      cpus: Number(status.cpuinfo?.cpus ?? 0),
      memoryMiB: Math.floor(Number(status.memory?.total ?? 0) / 1048576),
      numaNodes: [],
      hugepages: [],
      devices: [],
      capabilities: PROXMOX_CAPABILITIES,
    };
  }

  resource<K extends ResourceKind>(kind: K): ResourceDriver<SpecOf<K>> | undefined {
    return this.resources[kind] as ResourceDriver<SpecOf<K>> | undefined;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export function proxmoxClientFor(config: ProxmoxConfig): PveClient {
  const auth: PveAuth =
    config.tokenId !== undefined
      ? { kind: "token", tokenId: config.tokenId, secret: config.tokenSecret ?? "" }
      : { kind: "password", username: config.username ?? "", password: config.password ?? "" };
  return new PveClient({ url: config.url, auth, caFile: config.caFile, fingerprint: config.fingerprint, insecure: config.insecure });
}

export async function openProxmoxDriver(host: string, config: HostConfig): Promise<Driver> {
  if (config.driver !== "proxmox") throw new Error(`host "${host}" is a ${config.driver} host, not Proxmox VE`);
  const client = proxmoxClientFor(config);
  // One call now: a wrong URL, certificate or credential fails the first operation with PVE's answer.
  const nodes = await client.get<{ node: string }[]>("/nodes");
  if (!nodes.some((n) => n.node === config.node)) {
    await client.close();
    throw new Error(`host "${host}": Proxmox VE has no node "${config.node}"; its nodes are ${nodes.map((n) => n.node).join(", ") || "none"}`);
  }
  return new ProxmoxDriver(host, config, client, config.node);
}
