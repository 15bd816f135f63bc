import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { PassthroughDeviceSpec } from "../../../core/model";
import { listPciDevices, type PciDevice } from "../host-capabilities";
import { orAbsent, type LibvirtSession } from "../session";

type Spec = PassthroughDeviceSpec;

/**
 * A host device reserved for passthrough, id = libvirt's node device name. Nothing is created:
 * the device is found, checked (it must sit in an IOMMU group, or VFIO cannot isolate it) and,
 * for `managed: false`, detached from its host driver now instead of at each VM start.
 */
export class LibvirtPassthroughResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  /**
   * Nothing is made, so an interrupted run leaves nothing to adopt; answering "absent" sends every
   * create through the checks below instead of letting the runtime adopt an unusable device.
   */
  async find(_spec: Spec): Promise<Observed<Spec> | undefined> {
    return undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const devices = await listPciDevices(this.session);
    const device = select(devices, spec);
    const field = spec.pciAddress ? "pciAddress" : "vendorDevice";
    const wanted = spec.pciAddress ?? spec.vendorDevice;
    if (!device) {
      throw new Error(
        `${field}: no PCI device ${wanted} on host "${this.session.host}"; the host has ${devices.length === 0 ? "no PCI devices libvirt reports" : devices.map((d) => `${d.address} (${d.vendor}:${d.product}/${d.class ?? "?"})`).join(", ")}`,
      );
    }
    if (device.iommuGroup === undefined) {
      throw new Error(
        `${field}: device ${device.address} (${device.vendor}:${device.product}) is in no IOMMU group on host "${this.session.host}"; enable the IOMMU (intel_iommu=on or amd_iommu=on) before passing it through`,
      );
    }
    // PCI class 0x03xxxx is "display controller": a gpu that is not one is almost surely the wrong address.
    if (spec.kind === "gpu" && !(device.class ?? "").startsWith("03")) {
      throw new Error(
        `kind: "gpu" but device ${device.address} has PCI class ${device.class ?? "unknown"}, not a display controller (03xxxx); use kind "pci" or pick the GPU's address`,
      );
    }
    if (!spec.managed) {
      ctx.progress(`detaching ${device.address} from its host driver`);
      const client = await this.session.get();
      await client.call("nodeDeviceDetachFlags", { name: device.name, driverName: "vfio", flags: 0 });
    }
    return observe(device, spec);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const device = (await listPciDevices(this.session)).find((d) => d.name === id);
    return device ? observe(device, last) : undefined;
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    const observed = await this.read(id, next);
    if (!observed) throw new Error(`device ${id} is gone from host "${this.session.host}"`);
    return observed;
  }

  async delete(id: string, spec: Spec): Promise<void> {
    if (spec.managed) return;
    const client = await this.session.get();
    await orAbsent(client.call("nodeDeviceReAttach", { name: id }));
  }
}

function observe(device: PciDevice, spec: Spec): Observed<Spec> {
  return { id: device.name, spec, owned: true, outputs: { observed: { ...device } } };
}

function select(devices: PciDevice[], spec: Spec): PciDevice | undefined {
  if (spec.pciAddress) return devices.find((d) => d.address === spec.pciAddress);
  const [ids, cls] = spec.vendorDevice!.split("/");
  const [vendor, product] = ids.split(":");
  // The class is matched by prefix: "0300" (VGA) matches the host's full "030000".
  return devices.find((d) => d.vendor === vendor && d.product === product && (!cls || (d.class ?? "").startsWith(cls)));
}
