// Refresh of a VM that DRS or an admin vMotioned to another ESXi host of the same
// vCenter. The VM keeps its id (vm-42), so it is found where it was recorded; only
// the host entry may be stale. When another entry of the same vCenter and
// datacenter pins the ESXi host the VM now runs on, that entry is reported as
// `host`, so the next `up` plans a vMotion back (a host change between entries of
// one vCenter is a migration, never a replace). When no entry pins it, the
// recorded entry stays: an entry that pins only a cluster or pool lets DRS place
// VMs, and a move there is not drift.
import type { Hosts } from "../../../core/hosts";
import { getProperties, InventoryNotFoundError, lookup, moref, type MoRef, type VimClient } from "../soap";
import { pinnedHostPath, sameEndpoint, type VsphereHostConfig, type VsphereSession } from "../session";

/** The entry the VM now runs under, or undefined to keep the recorded one. */
export async function entryOfMovedVm(session: VsphereSession, client: VimClient, vm: MoRef, hosts: Readonly<Hosts>): Promise<string | undefined> {
  const pinned = await session.esxiHost();
  // The recorded entry lets DRS place the VM: wherever it runs is where the entry put it.
  if (!pinned) return undefined;
  const runningOn = moref((await getProperties(client, vm, ["runtime.host"])).props.get("runtime.host"));
  if (!runningOn || runningOn.value === pinned.value) return undefined;
  const recorded = session.config;
  const matches: { name: string; config: VsphereHostConfig }[] = [];
  for (const [name, config] of Object.entries(hosts)) {
    if (name === session.host || config.driver !== "vsphere") continue;
    if (!sameEndpoint(config.url, recorded.url) || config.datacenter !== recorded.datacenter) continue;
    const path = pinnedHostPath(config);
    // Resolved with the recorded entry's session: same vCenter, so no second login.
    if (path !== undefined && (await hostId(client, path, config.datacenter)) === runningOn.value) matches.push({ name, config });
  }
  // Several entries pin that host: the one that also keeps storage, pool and folder implies no other move back.
  const alike = (c: VsphereHostConfig) => c.datastore === recorded.datastore && c.resourcePool === recorded.resourcePool && c.folder === recorded.folder;
  return (matches.find((m) => alike(m.config)) ?? matches[0])?.name;
}

/** An entry whose host no longer resolves pins nothing this VM can be on. */
async function hostId(client: VimClient, path: string, datacenter: string): Promise<string | undefined> {
  try {
    return (await lookup(client, "host", path, datacenter)).value;
  } catch (error) {
    if (error instanceof InventoryNotFoundError) return undefined;
    throw error;
  }
}
