// Refresh of a VM that DRS or an admin vMotioned to another ESXi host of the same
// vCenter. The VM keeps its id (vm-42), so it is found where it was recorded; only
// the host entry may be stale. When another entry of the same vCenter and
// datacenter pins the ESXi host the VM now runs on, that entry is reported as
// `host`, so the next `up` plans a vMotion back (a host change between entries of
// one vCenter is a migration, never a replace). When no entry pins it, the
// recorded entry stays: an entry that pins only a cluster or pool lets DRS place
// VMs, and a move there is not drift.
import type { Hosts } from "../../../core/hosts";
import { getProperties, InventoryNotFoundError, lookup, moref, morefs, type MoRef, type VimClient } from "../soap";
import { pinnedHostPath, sameEndpoint, type VsphereHostConfig, type VsphereSession } from "../session";

/** The entry the VM now runs under, or undefined to keep the recorded one. */
export async function entryOfMovedVm(session: VsphereSession, client: VimClient, vm: MoRef, hosts: Readonly<Hosts>): Promise<string | undefined> {
  // A pinned host that no longer resolves (removed from the inventory, as after an evacuation)
  // is not where the VM runs: compare with every entry then.
  const pinned = await session.esxiHost().catch((error: unknown) => {
    if (error instanceof InventoryNotFoundError) return "gone" as const;
    throw error;
  });
  // The recorded entry lets DRS place the VM: wherever it runs is where the entry put it.
  if (!pinned) return undefined;
  const { props } = await getProperties(client, vm, ["runtime.host", "datastore"]);
  const runningOn = moref(props.get("runtime.host"));
  if (!runningOn || (pinned !== "gone" && runningOn.value === pinned.value)) return undefined;
  const recorded = session.config;
  const matches: { name: string; config: VsphereHostConfig }[] = [];
  for (const [name, config] of Object.entries(hosts)) {
    if (name === session.host || config.driver !== "vsphere") continue;
    if (!sameEndpoint(config.url, recorded.url) || config.datacenter !== recorded.datacenter) continue;
    const path = pinnedHostPath(config);
    // Resolved with the recorded entry's session: same vCenter, so no second login.
    if (path !== undefined && (await resolvedId(client, "host", path, config.datacenter)) === runningOn.value) matches.push({ name, config });
  }
  // Several entries pin that host: prefer the one whose datastore holds the VM now (an admin may
  // have moved its storage too), then the one keeping the recorded storage, pool and folder.
  const vmDatastores = new Set(morefs(props.get("datastore"), "ManagedObjectReference").map((d) => d.value));
  for (const m of matches) {
    const datastore = m.config.datastore === undefined ? undefined : await resolvedId(client, "datastore", m.config.datastore, m.config.datacenter);
    if (datastore !== undefined && vmDatastores.has(datastore)) return m.name;
  }
  const alike = (c: VsphereHostConfig) => c.datastore === recorded.datastore && c.resourcePool === recorded.resourcePool && c.folder === recorded.folder;
  return (matches.find((m) => alike(m.config)) ?? matches[0])?.name;
}

/** An entry whose host or datastore no longer resolves names nothing this VM can be on. */
async function resolvedId(client: VimClient, kind: "host" | "datastore", path: string, datacenter: string): Promise<string | undefined> {
  try {
    return (await lookup(client, kind, path, datacenter)).value;
  } catch (error) {
    if (error instanceof InventoryNotFoundError) return undefined;
    throw error;
  }
}
