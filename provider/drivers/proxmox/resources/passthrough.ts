// PCI passthrough on Proxmox VE through cluster resource mappings (/cluster/mapping/pci): a named
// mapping says which device on which node, and a VM takes it as `hostpciN: mapping=<name>`, which
// needs no root (Mapping.Use on /mapping/pci/<name>) and is checked by PVE at VM start. Facts from
// PVE 9.1's API schema: a map entry is `node=…,path=<PCI address>,id=<vendor:device>` with optional
// `iommugroup` and `subsystem-id`, used by PVE to notice a changed device.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { InputError, PartialCreateError, type InputFailure } from "../../../core/errors";
import type { PassthroughDeviceSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";

type Spec = PassthroughDeviceSpec;

/** NovaCron's mark on the mappings it made, in the mapping's description. */
export const MAPPING_MARK = "managed by NovaCron";

/** One device as `GET /nodes/{node}/hardware/pci` lists it (ids as 0x-prefixed hex). */
export interface HostPci {
  id: string;
  class: string;
  vendor: string;
  device: string;
  iommugroup: number;
  subsystem_vendor?: string;
  subsystem_device?: string;
  vendor_name?: string;
  device_name?: string;
}

interface Mapping {
  id?: string;
  description?: string;
  map?: string[];
}

export function passthroughProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  if (spec.kind === "usb")
    out.push({
      property: "kind",
      reason: 'NovaCron\'s Proxmox driver maps PCI devices (/cluster/mapping/pci); USB mappings (/cluster/mapping/usb) are not made yet: use kind "pci", "gpu" or "sriov-vf"',
    });
  if (!spec.managed)
    out.push({
      property: "managed",
      reason: "got false; Proxmox VE binds a mapped device to vfio-pci when a VM using it starts and gives it back afterwards, so managed is always true there",
    });
  return out;
}

/** The mapping's name: a PVE config id (a letter, then letters, digits, _) made from the node and the selector. */
export function mappingId(node: string, spec: Spec): string {
  const selector = (spec.pciAddress ?? spec.vendorDevice ?? "").replace(/[^0-9a-z]/gi, "_");
  return `nc_${node.replace(/[^0-9a-z]/gi, "_")}_${selector}`.toLowerCase();
}

const hex = (v: string | undefined) => (v ?? "").replace(/^0x/i, "").toLowerCase();

/** The create call's parameters for a device found on the node. */
export function mappingParams(id: string, node: string, device: HostPci): { id: string; map: string[]; description: string } {
  const subsystem = device.subsystem_vendor && device.subsystem_device ? `,subsystem-id=${hex(device.subsystem_vendor)}:${hex(device.subsystem_device)}` : "";
  const group = device.iommugroup >= 0 ? `,iommugroup=${device.iommugroup}` : "";
  return {
    id,
    map: [`node=${node},path=${device.id},id=${hex(device.vendor)}:${hex(device.device)}${group}${subsystem}`],
    description: `${MAPPING_MARK}: ${describe(device)}`,
  };
}

function describe(d: HostPci): string {
  return `${d.id} (${hex(d.vendor)}:${hex(d.device)}/${hex(d.class)}${d.device_name ? ` ${d.device_name}` : ""})`;
}

function select(devices: readonly HostPci[], spec: Spec): HostPci | undefined {
  if (spec.pciAddress) return devices.find((d) => d.id.toLowerCase() === spec.pciAddress);
  const [ids, cls] = spec.vendorDevice!.split("/");
  const [vendor, device] = ids.split(":");
  return devices.find((d) => hex(d.vendor) === vendor && hex(d.device) === device && (!cls || hex(d.class).startsWith(cls.slice(0, 4))));
}

/**
 * A PCI device of this entry's node, given to VMs through a cluster resource mapping; id = the
 * mapping's name, which `passthrough.hostdevN.device` of a VirtualMachine takes.
 */
export class ProxmoxPassthroughResource implements ResourceDriver<Spec> {
  constructor(
    readonly client: PveClient,
    readonly node: string,
  ) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    return this.observe(mappingId(this.node, spec), spec);
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const problems = passthroughProblems(spec);
    if (problems.length > 0) throw new InputError("PassthroughDevice", problems);
    const field = spec.pciAddress ? "pciAddress" : "vendorDevice";
    const wanted = spec.pciAddress ?? spec.vendorDevice;
    const devices = await this.client.get<HostPci[]>(`/nodes/${this.node}/hardware/pci`);
    const device = select(devices, spec);
    if (!device) {
      throw new InputError("PassthroughDevice", [
        { property: field, reason: `got "${wanted}"; node ${this.node} lists no such PCI device (it lists ${devices.map(describe).join(", ") || "none"})` },
      ]);
    }
    if (device.iommugroup < 0) {
      throw new InputError("PassthroughDevice", [
        {
          property: field,
          reason: `device ${describe(device)} on node ${this.node} is in no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) before passing it through`,
        },
      ]);
    }
    // PCI class 03xx is "display controller": a gpu that is not one is almost surely the wrong device.
    if (spec.kind === "gpu" && !hex(device.class).startsWith("03")) {
      throw new InputError("PassthroughDevice", [
        { property: "kind", reason: `got "gpu" but device ${describe(device)} has PCI class ${hex(device.class)}, not a display controller (03xx)` },
      ]);
    }
    const params = mappingParams(mappingId(this.node, spec), this.node, device);
    ctx.progress(`mapping ${describe(device)} on node ${this.node} as ${params.id}`);
    await this.client.post("/cluster/mapping/pci", params);
    const made = await this.observe(params.id, spec);
    if (!made) throw new PartialCreateError(params.id, { observed: { mapping: params.id } }, `Proxmox VE accepted mapping ${params.id} but does not list it`);
    return made;
  }

  read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    return this.observe(id, last);
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    // Every field but labels selects another device, which replaces the resource (classify.ts).
    const found = await this.observe(id, next);
    if (!found) throw new Error(`mapping ${id} is gone from the cluster`);
    return found;
  }

  async delete(id: string, _spec: Spec, ctx: OperationContext): Promise<void> {
    const mapping = await this.mapping(id);
    if (!mapping) return ctx.progress(`mapping ${id} is already gone`);
    if (!(mapping.description ?? "").startsWith(MAPPING_MARK)) return ctx.progress(`mapping ${id} does not carry NovaCron's mark: it is left in place`);
    await this.client.delete(`/cluster/mapping/pci/${id}`).catch((error: unknown) => {
      if (!(error instanceof PveApiError && /does not exist/.test(error.reason))) throw error;
    });
    ctx.progress(`mapping ${id} removed (VMs that use it no longer start until it is back)`);
  }

  /** The mapping, or undefined: PVE answers "pci ID '…' does not exist"; an answer without map entries counts as none. */
  private async mapping(id: string): Promise<Mapping | undefined> {
    try {
      const found = await this.client.get<Mapping>(`/cluster/mapping/pci/${id}`);
      return Array.isArray(found?.map) && found.map.length > 0 ? found : undefined;
    } catch (error) {
      if (error instanceof PveApiError && /does not exist/.test(error.reason)) return undefined;
      throw error;
    }
  }

  private async observe(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const mapping = await this.mapping(id);
    const entry = mapping?.map?.find((m) => m.split(",").includes(`node=${this.node}`));
    if (!mapping || !entry) return undefined;
    const props = Object.fromEntries(entry.split(",").map((kv) => kv.split("=", 2) as [string, string]));
    return {
      id,
      // Selected by address: a mapping pointed elsewhere since shows as drift (a replace).
      spec: last.pciAddress !== undefined && props.path ? { ...last, pciAddress: props.path.toLowerCase() } : last,
      owned: (mapping.description ?? "").startsWith(MAPPING_MARK),
      outputs: { observed: { mapping: id, node: this.node, path: props.path, vendorDevice: props.id, ...(props.iommugroup ? { iommuGroup: Number(props.iommugroup) } : {}) } },
    };
  }
}
