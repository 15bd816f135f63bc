// Standard portgroups: made on a vSwitch of the one ESXi host the entry pins
// (HostNetworkSystem.AddPortGroup). vSphere gives a standard portgroup no
// description or other free field to mark it with, so ownership lives in the
// resource id instead: a portgroup NovaCron made has the id
// `HostPortGroup:<host moid>/<name>`, one it adopted keeps `Network:<moid>`, and
// only the first kind is ever changed or removed.
import type { Observed } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { NetworkSpec } from "../../../core/model";
import { ManagedObjectNotFoundError, MoRef, VimFault, type VimClient } from "../soap";
import { addStandardPortgroup, readHostNetworking, removeStandardPortgroup, updateStandardPortgroup, type HostNetworking } from "../vm";

const ID_TYPE = "HostPortGroup";

export interface StandardPortgroupId {
  readonly host: MoRef;
  readonly name: string;
}

export function standardPortgroupId(host: MoRef, name: string): string {
  return `${ID_TYPE}:${host.value}/${name}`;
}

/** The host and name of a portgroup NovaCron made, or undefined for any other network id. */
export function parseStandardPortgroupId(id: string): StandardPortgroupId | undefined {
  if (!id.startsWith(`${ID_TYPE}:`)) return undefined;
  const rest = id.slice(ID_TYPE.length + 1);
  const slash = rest.indexOf("/");
  // Host moids have no "/"; the portgroup name after the first one may.
  if (slash <= 0) return undefined;
  return { host: new MoRef("HostSystem", rest.slice(0, slash)), name: rest.slice(slash + 1) };
}

export async function createStandardPortgroup(client: VimClient, host: MoRef, networking: HostNetworking, spec: NetworkSpec): Promise<Observed<NetworkSpec>> {
  await addStandardPortgroup(client, networking.system, { name: spec.name, vlanId: spec.vlan ?? 0, vswitchName: spec.bridge ?? "" });
  // From here the portgroup exists and is ours: a failure must still record it, or the next
  // run would adopt it as someone else's and never delete it.
  const id = standardPortgroupId(host, spec.name);
  const observed = await readStandardPortgroup(client, { host, name: spec.name }, spec).catch((error: unknown) => {
    throw new PartialCreateError(id, {}, `portgroup "${spec.name}" was added but could not be read back: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (!observed) throw new PartialCreateError(id, {}, `portgroup "${spec.name}" was added to vSwitch ${spec.bridge ?? ""} of ESXi host ${host.value} but cannot be found there`);
  return observed;
}

/** Undefined when the portgroup or its host is gone. */
export async function readStandardPortgroup(client: VimClient, id: StandardPortgroupId, last: NetworkSpec): Promise<Observed<NetworkSpec> | undefined> {
  const pg = (await networkingOf(client, id.host))?.portgroups.find((p) => p.name === id.name);
  if (!pg) return undefined;
  return {
    id: standardPortgroupId(id.host, pg.name),
    spec: { ...last, name: pg.name, mode: "bridge", bridge: pg.vswitchName, vlan: modelVlan(pg.vlanId, pg.name) },
    owned: true,
    outputs: { state: "active", bridgeName: pg.vswitchName },
  };
}

/** A VLAN change; the vSwitch stays the one the portgroup is on (a change of bridge replaces it). */
export async function updateStandardPortgroupVlan(client: VimClient, id: StandardPortgroupId, next: NetworkSpec): Promise<Observed<NetworkSpec>> {
  const networking = await networkingOf(client, id.host);
  const pg = networking?.portgroups.find((p) => p.name === id.name);
  if (!networking || !pg) throw new Error(`portgroup "${id.name}" is gone from ESXi host ${id.host.value}; refresh to record that, then up makes it again`);
  await updateStandardPortgroup(client, networking.system, { ...pg, vlanId: next.vlan ?? 0 });
  const observed = await readStandardPortgroup(client, id, next);
  if (!observed) throw new Error(`portgroup "${id.name}" disappeared from ESXi host ${id.host.value} during its update`);
  return observed;
}

/** Removing a portgroup that is already gone (or whose host is) succeeds. */
export async function deleteStandardPortgroup(client: VimClient, id: StandardPortgroupId): Promise<void> {
  const networking = await networkingOf(client, id.host);
  if (!networking?.portgroups.some((p) => p.name === id.name)) return;
  try {
    await removeStandardPortgroup(client, networking.system, id.name);
  } catch (error) {
    if (!(error instanceof VimFault && error.faultType === "NotFound")) throw error;
  }
}

async function networkingOf(client: VimClient, host: MoRef): Promise<HostNetworking | undefined> {
  try {
    return await readHostNetworking(client, host);
  } catch (error) {
    if (error instanceof ManagedObjectNotFoundError) return undefined;
    throw error;
  }
}

/**
 * A portgroup's VLAN as the model holds it: none for 0. 4095 (all VLANs, a trunk to the guest)
 * has no place in the model, and recording it would leave state no later read could parse.
 */
export function modelVlan(vlanId: number, portgroup: string): number | undefined {
  if (vlanId >= 4095)
    throw new Error(
      `portgroup "${portgroup}" carries VLAN ${vlanId} (all VLANs, trunked to the guest), which NovaCron's Network cannot express; set a single VLAN (1-4094) or none in vCenter`,
    );
  return vlanId || undefined;
}
