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

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const device = await this.select(spec);
    return device ? observe(device, spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const device = await this.select(spec);
    const wanted = spec.pciAddress ?? spec.vendorDevice;
    if (!device) throw new Error(`${spec.pciAddress ? "pciAddress" : "vendorDevice"}: no PCI device ${wanted} on host "${this.session.host}" (see getHostCapabilities().devices)`);
    if (device.iommuGroup === undefined) {
      throw new Error(`${spec.pciAddress ? "pciAddress" : "vendorDevice"}: device ${device.address} is in no IOMMU group; enable the IOMMU on the host (intel_iommu=on or amd_iommu=on) before passing it through`);
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

  private async select(spec: Spec): Promise<PciDevice | undefined> {
    const devices = await listPciDevices(this.session);
    if (spec.pciAddress) return devices.find((d) => d.address === spec.pciAddress);
    const [ids, cls] = spec.vendorDevice!.split("/");
    const [vendor, product] = ids.split(":");
    // The class is matched by prefix: "0300" (VGA) matches the host's full "030000".
    return devices.find((d) => d.vendor === vendor && d.product === product && (!cls || (d.class ?? "").startsWith(cls)));
  }
}

function observe(device: PciDevice, spec: Spec): Observed<Spec> {
  return { id: device.name, spec, owned: true, outputs: { observed: { ...device } } };
}
