// Networks are portgroups. An existing one (standard or distributed) is
// adopted and read, and delete leaves it. A missing one is made on the switch
// `bridge` names: a distributed switch of the datacenter (the portgroup then
// spans every host of the switch, so vMotion keeps the NIC's network), else a
// standard vSwitch of the ESXi host the entry pins (standard-portgroup.ts).
// Only portgroups NovaCron made are ever changed or deleted: distributed ones
// carry its description, standard ones its id.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { NetworkSpec } from "../../../core/model";
import {
  child,
  findByInventoryPath,
  getProperties,
  getPropertiesOfMany,
  lookup,
  ManagedObjectNotFoundError,
  moref,
  morefs,
  MoRef,
  num,
  pathSegment,
  runTask,
  text,
  type VimClient,
} from "../soap";
import type { VsphereSession } from "../session";
import { UnsupportedSpecError } from "../translate";
import { readHostNetworking, type HostNetworking } from "../vm";
import { findInventory, gone } from "./datastore";
import { createStandardPortgroup, deleteStandardPortgroup, modelVlan, parseStandardPortgroupId, readStandardPortgroup, updateStandardPortgroupVlan } from "./standard-portgroup";
import { taskOptions } from "./vm-power";

const MARK = "Managed by NovaCron";

/** Where a missing portgroup goes: the switch `bridge` names, of either kind. */
type Switch = { kind: "distributed"; ref: MoRef } | { kind: "standard"; host: MoRef; networking: HostNetworking };

export class VspherePortgroupResource implements ResourceDriver<NetworkSpec> {
  constructor(private readonly session: VsphereSession) {}

  async find(spec: NetworkSpec): Promise<Observed<NetworkSpec> | undefined> {
    const ref = await findInventory(this.session, "network", spec.name);
    // Adopting an existing portgroup is safe: delete removes only NovaCron's own.
    return ref ? this.observe(ref, spec) : undefined;
  }

  async create(spec: NetworkSpec, ctx: OperationContext): Promise<Observed<NetworkSpec>> {
    const client = await this.session.client();
    const target = await this.switchFor(client, spec);
    const vlan = spec.vlan ? ` with VLAN ${spec.vlan}` : "";
    if (target.kind === "standard") {
      ctx.progress(`adding standard portgroup to vSwitch ${spec.bridge} of ESXi host ${this.session.config.host}${vlan}`);
      return createStandardPortgroup(client, target.host, target.networking, spec);
    }
    ctx.progress(`adding distributed portgroup to switch ${spec.bridge}${vlan}`);
    // DVPortgroupConfigSpec in schema order: name, numPorts, defaultPortConfig, description, type.
    const pgSpec = {
      name: spec.name,
      numPorts: 8,
      defaultPortConfig: spec.vlan === undefined ? undefined : vlanSetting(spec.vlan),
      description: MARK,
      // Ports are added as VMs connect, so the portgroup never runs out.
      type: "earlyBinding",
      autoExpand: true,
    };
    await runTask(client, "AddDVPortgroup_Task", target.ref, { spec: [pgSpec] }, taskOptions(ctx));
    const ref = await findInventory(this.session, "network", spec.name);
    if (!ref) throw new Error(`portgroup "${spec.name}" was added to switch ${spec.bridge} but cannot be found`);
    return this.observe(ref, spec);
  }

  async read(id: string, last: NetworkSpec): Promise<Observed<NetworkSpec> | undefined> {
    const standard = parseStandardPortgroupId(id);
    if (standard) return readStandardPortgroup(await this.session.client(), standard, last);
    return gone(this.observe(networkRef(id), last));
  }

  async update(id: string, old: NetworkSpec, next: NetworkSpec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<NetworkSpec>> {
    const client = await this.session.client();
    const standard = parseStandardPortgroupId(id);
    if (old.vlan === next.vlan) return standard ? this.present(readStandardPortgroup(client, standard, next), id) : this.observe(networkRef(id), next);
    ctx.progress(`changing VLAN ${old.vlan ?? "none"} → ${next.vlan ?? "none"}`);
    if (standard) return updateStandardPortgroupVlan(client, standard, next);
    const ref = networkRef(id);
    if (ref.type !== "DistributedVirtualPortgroup" || !(await this.ownDistributed(client, ref))) {
      throw new UnsupportedSpecError(
        "vlan",
        `portgroup "${next.name}" was not made by NovaCron (it was adopted), so NovaCron does not change its VLAN; change it in vCenter and set vlan to match, or leave vlan as it was`,
      );
    }
    await this.reconfigureDistributedVlan(client, ref, next.vlan, ctx);
    return this.observe(ref, next);
  }

  async delete(id: string, _spec: NetworkSpec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    const standard = parseStandardPortgroupId(id);
    if (standard) return deleteStandardPortgroup(client, standard);
    const ref = networkRef(id);
    // Adopted standard portgroups (`Network:` ids) and foreign distributed ones stay.
    if (ref.type !== "DistributedVirtualPortgroup") return;
    try {
      if (!(await this.ownDistributed(client, ref))) return;
      await runTask(client, "Destroy_Task", ref, {}, taskOptions(ctx));
    } catch (error) {
      if (!(error instanceof ManagedObjectNotFoundError)) throw error;
    }
  }

  private async present(observed: Promise<Observed<NetworkSpec> | undefined>, id: string): Promise<Observed<NetworkSpec>> {
    const found = await observed;
    if (!found) throw new Error(`portgroup ${id} is gone from host "${this.session.host}"; refresh to record that, then up makes it again`);
    return found;
  }

  private async ownDistributed(client: VimClient, ref: MoRef): Promise<boolean> {
    return text((await getProperties(client, ref, ["config.description"])).props.get("config.description")) === MARK;
  }

  /**
   * ReconfigureDVPortgroup_Task needs the current configVersion; the other settings NovaCron
   * made the portgroup with are sent back as read, so only the VLAN changes.
   */
  private async reconfigureDistributedVlan(client: VimClient, ref: MoRef, vlan: number | undefined, ctx: OperationContext): Promise<void> {
    const paths = ["config.configVersion", "config.name", "config.numPorts", "config.type", "config.autoExpand"];
    const c = (await getProperties(client, ref, paths)).props;
    // DVPortgroupConfigSpec in schema order: configVersion, name, numPorts, defaultPortConfig, description, type, autoExpand.
    const spec = {
      configVersion: text(c.get("config.configVersion")) ?? "",
      name: text(c.get("config.name")) ?? "",
      numPorts: num(c.get("config.numPorts")) ?? 8,
      defaultPortConfig: vlanSetting(vlan ?? 0),
      description: MARK,
      type: text(c.get("config.type")) ?? "earlyBinding",
      autoExpand: text(c.get("config.autoExpand")) !== "false",
    };
    await runTask(client, "ReconfigureDVPortgroup_Task", ref, { spec }, taskOptions(ctx));
  }

  /** The switch `bridge` names: a distributed switch of the datacenter, else a vSwitch of the pinned ESXi host. */
  private async switchFor(client: VimClient, spec: NetworkSpec): Promise<Switch> {
    const bridge = spec.bridge ?? "";
    const ref = bridge ? await findByInventoryPath(client, `${this.session.datacenter}/network/${pathSegment(bridge)}`) : undefined;
    if (ref?.type.endsWith("DistributedVirtualSwitch")) return { kind: "distributed", ref };
    const missing = `portgroup "${spec.name}" does not exist in datacenter ${this.session.datacenter}, so NovaCron makes it on the switch bridge names`;
    const distributed = (await distributedSwitchNames(client, this.session.datacenter)).join(", ") || "none";
    const host = await this.session.esxiHost();
    if (!host) {
      throw new UnsupportedSpecError(
        "bridge",
        `got "${bridge}"; ${missing}, but it is no distributed switch (distributed switches: ${distributed}), and host "${this.session.host}" pins no ESXi host: a standard vSwitch belongs to one ESXi host, so set \`host\` in its novacron:hosts entry to make the portgroup on that host's vSwitch`,
      );
    }
    const networking = await readHostNetworking(client, host);
    if (networking.vswitches.includes(bridge)) return { kind: "standard", host, networking };
    const hostName = this.session.config.host ?? host.value;
    throw new UnsupportedSpecError(
      "bridge",
      `got "${bridge}"; ${missing}, but it is neither a distributed switch (distributed switches: ${distributed}) nor a standard vSwitch of ESXi host ${hostName} (its vSwitches: ${networking.vswitches.join(", ") || "none"})`,
    );
  }

  private async observe(ref: MoRef, last: NetworkSpec): Promise<Observed<NetworkSpec>> {
    const client = await this.session.client();
    const c = await getProperties(client, ref, ["name"]);
    let bridge = last.bridge;
    let vlan = last.vlan;
    if (ref.type === "DistributedVirtualPortgroup") {
      const pg = await getProperties(client, ref, ["config.distributedVirtualSwitch", "config.defaultPortConfig"]);
      const dvs = moref(pg.props.get("config.distributedVirtualSwitch"));
      if (dvs) bridge = text((await getProperties(client, dvs, ["name"])).props.get("name")) ?? bridge;
      vlan = modelVlan(num(child(pg.props.get("config.defaultPortConfig"), "vlan"), "vlanId") ?? 0, text(c.props.get("name")) ?? last.name);
    }
    return {
      id: `${ref.type}:${ref.value}`,
      spec: { ...last, name: text(c.props.get("name")) ?? last.name, mode: "bridge", bridge, vlan },
      owned: true,
      outputs: { state: "active", bridgeName: bridge },
    };
  }
}

function vlanSetting(vlanId: number) {
  return { $type: "VMwareDVSPortSetting", vlan: { $type: "VmwareDistributedVirtualSwitchVlanIdSpec", inherited: false, vlanId } };
}

/** Distributed switches at the top of the datacenter's network folder, by name, for error messages. */
async function distributedSwitchNames(client: VimClient, datacenter: string): Promise<string[]> {
  const dc = await lookup(client, "datacenter", datacenter);
  const folder = moref((await getProperties(client, dc, ["networkFolder"])).props.get("networkFolder"));
  if (!folder) return [];
  const entities = morefs((await getProperties(client, folder, ["childEntity"])).props.get("childEntity"), "ManagedObjectReference");
  const switches = entities.filter((e) => e.type.endsWith("DistributedVirtualSwitch"));
  return (await getPropertiesOfMany(client, switches, ["name"])).flatMap((o) => text(o.props.get("name")) ?? []);
}

/** Network ids carry the type: a standard and a distributed portgroup are different kinds of object. */
function networkRef(id: string): MoRef {
  const colon = id.indexOf(":");
  return colon < 0 ? new MoRef("Network", id) : new MoRef(id.slice(0, colon), id.slice(colon + 1));
}
