// Standard (per-host) networking of one ESXi host through its HostNetworkSystem:
// the vSwitches and their portgroups. A standard portgroup exists only on the
// host it was added to, unlike a distributed one.
import { children, getProperties, moref, num, text, type MoRef, type VimClient } from "../soap";

export interface StandardPortgroup {
  readonly name: string;
  /** 0 is "no VLAN" on the wire; 4095 passes every VLAN to the guest. */
  readonly vlanId: number;
  readonly vswitchName: string;
}

export interface HostNetworking {
  /** The host's HostNetworkSystem, which every change goes through. */
  readonly system: MoRef;
  readonly vswitches: readonly string[];
  readonly portgroups: readonly StandardPortgroup[];
}

/**
 * Read from the network system's networkInfo: the object AddPortGroup and its siblings change,
 * so a read right after a change sees it (HostSystem config.network is a copy of it on ESXi).
 */
export async function readHostNetworking(client: VimClient, host: MoRef): Promise<HostNetworking> {
  const system = moref((await getProperties(client, host, ["configManager.networkSystem"])).props.get("configManager.networkSystem"));
  if (!system) throw new Error(`ESXi host ${host.value} reports no network system`);
  const info = (await getProperties(client, system, ["networkInfo"])).props.get("networkInfo");
  const vswitches = children(info, "vswitch").flatMap((v) => text(v, "name") ?? []);
  const portgroups = children(info, "portgroup").flatMap((p) => {
    const spec = children(p, "spec")[0];
    const name = text(spec, "name");
    return name === undefined ? [] : [{ name, vlanId: num(spec, "vlanId") ?? 0, vswitchName: text(spec, "vswitchName") ?? "" }];
  });
  return { system, vswitches, portgroups };
}

/**
 * HostPortGroupSpec in schema order (name, vlanId, vswitchName, policy). The policy is left
 * empty: the portgroup inherits security, teaming and shaping from its vSwitch.
 */
function portgroupSpec(pg: StandardPortgroup) {
  return { name: pg.name, vlanId: pg.vlanId, vswitchName: pg.vswitchName, policy: {} };
}

export async function addStandardPortgroup(client: VimClient, system: MoRef, pg: StandardPortgroup): Promise<void> {
  await client.invoke("AddPortGroup", system, { portgrp: portgroupSpec(pg) });
}

/** Replaces the portgroup's spec; the name stays (a rename would be a different portgroup to NovaCron). */
export async function updateStandardPortgroup(client: VimClient, system: MoRef, pg: StandardPortgroup): Promise<void> {
  await client.invoke("UpdatePortGroup", system, { pgName: pg.name, portgrp: portgroupSpec(pg) });
}

export async function removeStandardPortgroup(client: VimClient, system: MoRef, name: string): Promise<void> {
  await client.invoke("RemovePortGroup", system, { pgName: name });
}
