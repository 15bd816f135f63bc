// Resolving where a VM lives (folder, pool, datastore, host) and what a NIC
// plugs into, from inventory paths. Resolve once and reuse across operations:
// each lookup is a round trip.
import { getProperties, lookup, moref, text, type MoRef, type VimClient } from "../soap";
import type { NetworkBinding } from "./spec";

export interface PlacementInput {
  readonly datacenter: string;
  /** VM folder path inside the datacenter's vm folder; "" for the root. */
  readonly folder?: string;
  /** A resource pool path, or a cluster/standalone host (meaning its root pool). */
  readonly resourcePool: string;
  readonly datastore: string;
  /** Pin to one host; otherwise the cluster picks. */
  readonly host?: string;
}

export interface Placement {
  readonly datacenter: string;
  readonly folder: MoRef;
  readonly pool: MoRef;
  readonly datastore: MoRef;
  readonly datastoreName: string;
  readonly host: MoRef | undefined;
}

export async function resolvePlacement(client: VimClient, input: PlacementInput): Promise<Placement> {
  const dc = input.datacenter;
  const [folder, pool, datastore, host] = await Promise.all([
    lookup(client, "folder", input.folder ?? "", dc),
    lookup(client, "resourcePool", input.resourcePool, dc),
    lookup(client, "datastore", input.datastore, dc),
    input.host === undefined ? Promise.resolve(undefined) : lookup(client, "host", input.host, dc),
  ]);
  return { datacenter: dc, folder, pool, datastore, datastoreName: input.datastore.split("/").pop() ?? input.datastore, host };
}

/** A standard portgroup or a distributed portgroup (whose switch UUID the NIC backing needs). */
export async function resolveNetwork(client: VimClient, datacenter: string, path: string): Promise<NetworkBinding> {
  const ref = await lookup(client, "network", path, datacenter);
  if (ref.type !== "DistributedVirtualPortgroup") {
    return { kind: "standard", network: ref, name: path.split("/").pop() ?? path };
  }
  const pg = await getProperties(client, ref, ["key", "config.distributedVirtualSwitch"]);
  const dvs = moref(pg.props.get("config.distributedVirtualSwitch"));
  if (!dvs) throw new Error(`distributed portgroup ${path} has no switch`);
  const sw = await getProperties(client, dvs, ["uuid"]);
  return {
    kind: "distributed",
    network: ref,
    portgroupKey: text(pg.props.get("key")) ?? ref.value,
    switchUuid: text(sw.props.get("uuid")) ?? "",
  };
}
