// Networks are portgroups. An existing one (standard or distributed) is
// adopted and read, and delete leaves it. A missing one is made as a
// distributed portgroup on the switch named by `bridge`: distributed
// portgroups span every host of the switch, so vMotion keeps the NIC's
// network. Only portgroups carrying NovaCron's description are ever deleted.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { NetworkSpec } from "../../../core/model";
import { child, findByInventoryPath, getProperties, ManagedObjectNotFoundError, moref, MoRef, num, pathSegment, runTask, text, type VimClient } from "../soap";
import type { VsphereSession } from "../session";
import { findInventory, gone } from "./datastore";
import { taskOptions } from "./vm-power";

const MARK = "Managed by NovaCron";

export class VspherePortgroupResource implements ResourceDriver<NetworkSpec> {
  constructor(private readonly session: VsphereSession) {}

  async find(spec: NetworkSpec): Promise<Observed<NetworkSpec> | undefined> {
    const ref = await findInventory(this.session, "network", spec.name);
    // Adopting an existing portgroup is safe: delete removes only NovaCron's own.
    return ref ? this.observe(ref, spec) : undefined;
  }

  async create(spec: NetworkSpec, ctx: OperationContext): Promise<Observed<NetworkSpec>> {
    const client = await this.session.client();
    const dvs = await this.distributedSwitch(client, spec);
    ctx.progress(`adding distributed portgroup to switch ${spec.bridge}${spec.vlan ? ` with VLAN ${spec.vlan}` : ""}`);
    // DVPortgroupConfigSpec in schema order: name, numPorts, defaultPortConfig, description, type.
    const pgSpec = {
      name: spec.name,
      numPorts: 8,
      defaultPortConfig: spec.vlan === undefined ? undefined : { $type: "VMwareDVSPortSetting", vlan: { $type: "VmwareDistributedVirtualSwitchVlanIdSpec", inherited: false, vlanId: spec.vlan } },
      description: MARK,
      // Ports are added as VMs connect, so the portgroup never runs out.
      type: "earlyBinding",
      autoExpand: true,
    };
    await runTask(client, "AddDVPortgroup_Task", dvs, { spec: [pgSpec] }, taskOptions(ctx));
    const ref = await findInventory(this.session, "network", spec.name);
    if (!ref) throw new Error(`portgroup "${spec.name}" was added to switch ${spec.bridge} but cannot be found`);
    return this.observe(ref, spec);
  }

  read(id: string, last: NetworkSpec): Promise<Observed<NetworkSpec> | undefined> {
    return gone(this.observe(networkRef(id), last));
  }

  async update(id: string, _old: NetworkSpec, next: NetworkSpec, _plan: ChangePlan): Promise<Observed<NetworkSpec>> {
    return this.observe(networkRef(id), next);
  }

  async delete(id: string, _spec: NetworkSpec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    const ref = networkRef(id);
    if (ref.type !== "DistributedVirtualPortgroup") return;
    try {
      const description = text((await getProperties(client, ref, ["config.description"])).props.get("config.description"));
      // Someone else's portgroup: only NovaCron's record of it goes.
      if (description !== MARK) return;
      await runTask(client, "Destroy_Task", ref, {}, taskOptions(ctx));
    } catch (error) {
      if (!(error instanceof ManagedObjectNotFoundError)) throw error;
    }
  }

  private async distributedSwitch(client: VimClient, spec: NetworkSpec): Promise<MoRef> {
    const where = `datacenter ${this.session.datacenter} on host "${this.session.host}"`;
    const path = `${this.session.datacenter}/network/${pathSegment(spec.bridge ?? "")}`;
    const ref = spec.bridge ? await findByInventoryPath(client, path) : undefined;
    if (!ref || !ref.type.endsWith("DistributedVirtualSwitch")) {
      throw new Error(
        `portgroup "${spec.name}" does not exist in ${where}, and NovaCron creates portgroups only on a distributed switch: set bridge to one (found ${ref ? `a ${ref.type}` : `no switch "${spec.bridge ?? ""}"`}); standard vSwitch portgroups are per ESXi host — create those in vCenter`,
      );
    }
    return ref;
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
      vlan = num(child(pg.props.get("config.defaultPortConfig"), "vlan"), "vlanId") || undefined;
    }
    return {
      id: `${ref.type}:${ref.value}`,
      spec: { ...last, name: text(c.props.get("name")) ?? last.name, mode: "bridge", bridge, vlan },
      owned: true,
      outputs: { state: "active", bridgeName: bridge },
    };
  }
}

/** Network ids carry the type: a standard and a distributed portgroup are different kinds of object. */
function networkRef(id: string): MoRef {
  const [type, value] = id.includes(":") ? id.split(":", 2) : ["Network", id];
  return new MoRef(type, value);
}
