// Passthrough devices (DirectPath I/O, and host USB devices) on vSphere are adopted, never enabled:
// turning passthrough on is an ESXi host setting of the vSphere admin's (it can
// need a host reboot and takes the device from every other user of the host),
// so NovaCron finds a device that is already enabled and refuses anything else.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, ResourceDriver } from "../../../core/driver";
import type { PassthroughDeviceSpec, VirtualMachineSpec } from "../../../core/model";
import { ManagedObjectNotFoundError, MoRef, type VimClient } from "../soap";
import { parsePassthroughDeviceId, passthroughDeviceId, UnsupportedSpecError } from "../translate";
import type { VsphereSession } from "../session";
import { listHostPciDevices, type HostPciDevice, type PassthroughSpec } from "../vm";
import { listHostUsbDevices, USB_ID_PREFIX, usbSpecOf, type HostUsbDevice } from "../vm/usb";

type Spec = PassthroughDeviceSpec;

export class VspherePassthroughResource implements ResourceDriver<Spec> {
  constructor(private readonly session: VsphereSession) {}

  /** Nothing is made, so there is nothing to adopt after a crash: every create runs the checks. */
  async find(_spec: Spec): Promise<Observed<Spec> | undefined> {
    return undefined;
  }

  async create(spec: Spec): Promise<Observed<Spec>> {
    const field = spec.pciAddress ? "pciAddress" : "vendorDevice";
    const wanted = spec.pciAddress ?? spec.vendorDevice;
    if (!spec.managed) {
      throw new UnsupportedSpecError(
        "managed",
        "got false; on vSphere the host's passthrough setting, not NovaCron, takes the device from ESXi; leave managed at its default (true)",
      );
    }
    const { host, hostName } = await this.pinnedHost(field);
    if (spec.kind === "usb") return this.createUsb(spec, host, hostName);
    const devices = await listHostPciDevices(await this.session.client(), host);
    const device = select(devices, spec);
    if (!device) {
      const listed =
        devices
          .filter((d) => d.passthruCapable)
          .map(describe)
          .join(", ") || "none";
      throw new UnsupportedSpecError(field, `got "${wanted}"; ESXi host ${hostName} has no such PCI device (passthrough-capable ones: ${listed})`);
    }
    if (!device.passthruCapable) {
      throw new UnsupportedSpecError(
        field,
        `got "${wanted}"; device ${describe(device)} on ESXi host ${hostName} is not passthrough-capable (config.pciPassthruInfo), so no VM can be given it`,
      );
    }
    if (!device.passthruEnabled) {
      throw new UnsupportedSpecError(
        field,
        `got "${wanted}"; device ${describe(device)} on ESXi host ${hostName} is passthrough-capable but not enabled for passthrough; a vSphere admin enables it (host → Configure → PCI Devices, then a host reboot if ESXi asks) — NovaCron only adopts enabled devices`,
      );
    }
    if (!device.passthruActive) {
      throw new UnsupportedSpecError(
        field,
        `got "${wanted}"; device ${describe(device)} on ESXi host ${hostName} is enabled for passthrough but not active yet: ESXi applies the setting at the next host reboot, and until then no VM with it can power on`,
      );
    }
    // PCI class 03xx is "display controller": a gpu that is not one is almost surely the wrong device.
    if (spec.kind === "gpu" && !device.classId.startsWith("03")) {
      throw new UnsupportedSpecError(
        "kind",
        `got "gpu" but device ${describe(device)} has PCI class ${device.classId}, not a display controller (03xx); use kind "pci" or pick the GPU`,
      );
    }
    return observe(host, device, spec);
  }

  /**
   * A host USB device, by vendor:product among those the host's USB arbitrator offers to VMs
   * (the config target's usb list). ESXi takes such a device from the host when a VM connects it.
   */
  private async createUsb(spec: Spec, host: MoRef, hostName: string): Promise<Observed<Spec>> {
    const devices = await listHostUsbDevices(await this.session.client(), host);
    const [vendor, product] = spec.vendorDevice!.split("/")[0]!.split(":");
    const device = devices.find((d) => d.vendorId === vendor && d.productId === product);
    if (!device) {
      const listed = devices.map(describeUsb).join(", ") || "none (ESXi lists a host's USB devices for VMs only while its USB arbitrator service runs)";
      throw new UnsupportedSpecError("vendorDevice", `got "${spec.vendorDevice}"; ESXi host ${hostName} offers no such USB device to VMs (offered: ${listed})`);
    }
    return observeUsb(host, device, spec);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const parsed = parsePassthroughDeviceId(id);
    if (!parsed) return undefined;
    const host = new MoRef("HostSystem", parsed.hostId);
    const gone = (e: unknown): never[] => {
      if (e instanceof ManagedObjectNotFoundError) return [];
      throw e;
    };
    const client = await this.session.client();
    if (parsed.kind === "usb") {
      const device = (await listHostUsbDevices(client, host).catch(gone)).find((d) => USB_ID_PREFIX + d.path === parsed.deviceId);
      return device ? observeUsb(host, device, last) : undefined;
    }
    const device = (await listHostPciDevices(client, host).catch(gone)).find((d) => d.id === parsed.deviceId);
    return device ? observe(host, device, last) : undefined;
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    const observed = await this.read(id, next);
    if (!observed) throw new Error(`passthrough device ${id} is gone from host "${this.session.host}"`);
    return observed;
  }

  async delete(): Promise<void> {
    // Adopted: the host's passthrough setting stays as the admin made it.
  }

  private async pinnedHost(field: string): Promise<{ host: MoRef; hostName: string }> {
    const host = await this.session.esxiHost();
    if (!host) {
      throw new UnsupportedSpecError(
        field,
        `host "${this.session.host}" names no ESXi host; a passthrough device belongs to one ESXi host, so set \`host\` in its novacron:hosts entry`,
      );
    }
    return { host, hostName: this.session.config.host ?? host.value };
  }
}

function describe(d: HostPciDevice): string {
  return `${d.id} (${d.vendorId}:${d.deviceId}/${d.classId} ${d.deviceName})`;
}

function select(devices: readonly HostPciDevice[], spec: Spec): HostPciDevice | undefined {
  if (spec.pciAddress) return devices.find((d) => d.id === spec.pciAddress);
  const [ids, cls] = spec.vendorDevice!.split("/");
  const [vendor, device] = ids!.split(":");
  const matches = devices.filter((d) => d.vendorId === vendor && d.deviceId === device && (!cls || d.classId.startsWith(cls.slice(0, 4))));
  // Several identical cards: the first usable one, else the first, so the error names the right problem.
  return matches.find((d) => d.passthruActive) ?? matches.find((d) => d.passthruEnabled) ?? matches[0];
}

function describeUsb(d: HostUsbDevice): string {
  return `${d.vendorId}:${d.productId} ${d.name} at port ${d.path}`;
}

function observeUsb(host: MoRef, device: HostUsbDevice, spec: Spec): Observed<Spec> {
  return { id: passthroughDeviceId(host.value, USB_ID_PREFIX + device.path), spec, owned: true, outputs: { observed: { ...device, host: host.value } } };
}

function observe(host: MoRef, device: HostPciDevice, spec: Spec): Observed<Spec> {
  return { id: passthroughDeviceId(host.value, device.id), spec, owned: true, outputs: { observed: { ...device, host: host.value } } };
}

/**
 * Each passthrough slot of a VM → the device as its backing needs it. The device must be on the
 * ESXi host this entry pins, since that is where the VM runs.
 */
export async function resolveVmPassthrough(session: VsphereSession, client: VimClient, spec: VirtualMachineSpec): Promise<Record<string, PassthroughSpec>> {
  const slots = Object.entries(spec.passthrough);
  if (slots.length === 0) return {};
  const host = await session.esxiHost();
  if (!host)
    throw new UnsupportedSpecError(
      "passthrough",
      `host "${session.host}" names no ESXi host; a VM with passthrough devices must run on their host, so set \`host\` in its novacron:hosts entry`,
    );
  const parsedSlots = slots.map(([slot, { device }]) => {
    const property = `passthrough.${slot}.device`;
    const parsed = parsePassthroughDeviceId(device);
    if (!parsed) throw new UnsupportedSpecError(property, `got "${device}"; on vSphere this is a PassthroughDevice id such as "host-21/0000:3b:00.0" or "host-21/usb:1/0/1"`);
    if (parsed.hostId !== host.value) {
      throw new UnsupportedSpecError(property, `got "${device}"; the device is on ESXi host ${parsed.hostId}, but host "${session.host}" places VMs on ${host.value}`);
    }
    return { slot, device, property, parsed };
  });
  // Each list is read only when a slot needs it.
  const devices = parsedSlots.some((s) => s.parsed.kind === "pci") ? await listHostPciDevices(client, host) : [];
  const usb = parsedSlots.some((s) => s.parsed.kind === "usb") ? await listHostUsbDevices(client, host) : [];
  const out: Record<string, PassthroughSpec> = {};
  for (const { slot, device, property, parsed } of parsedSlots) {
    if (parsed.kind === "usb") {
      const found = usb.find((d) => USB_ID_PREFIX + d.path === parsed.deviceId);
      if (!found) {
        throw new UnsupportedSpecError(
          property,
          `got "${device}"; ESXi host ${host.value} offers no USB device at port ${parsed.deviceId.slice(USB_ID_PREFIX.length)} to VMs (unplugged, or taken by the host)`,
        );
      }
      out[slot] = usbSpecOf(found);
      continue;
    }
    const found = devices.find((d) => d.id === parsed.deviceId);
    if (!found?.passthruActive || found.systemId === undefined) {
      throw new UnsupportedSpecError(
        property,
        `got "${device}"; ESXi host ${host.value} does not offer ${parsed.deviceId} for passthrough (missing, not enabled by the vSphere admin, or enabled but waiting for a host reboot)`,
      );
    }
    out[slot] = { id: found.id, vendorId: found.vendorId, deviceId: found.deviceId, systemId: found.systemId, deviceName: found.deviceName };
  }
  return out;
}
