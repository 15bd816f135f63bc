import { InputError, type InputFailure } from "../../core/errors";
import { parseCpuSet } from "../../core/model/common";
import type { VirtualMachineSpec } from "../../core/model";
import { formatCpuSet, hostTopology, parsePciDevice, type HostTopology } from "./host-capabilities";
import type { LibvirtSession } from "./session";
import { orAbsent } from "./session";
import type { PassthroughSource } from "./xml";

/**
 * What check() cannot know without the host: pinned CPUs, bound NUMA nodes and passthrough
 * devices must exist there. Run before anything is made on the host (volumes, seed, definition),
 * so a refused spec leaves nothing behind. Returns the resolved passthrough sources, keyed by
 * device id, because finding the devices is the check.
 */
export async function checkVmAgainstHost(session: LibvirtSession, vm: VirtualMachineSpec): Promise<Record<string, PassthroughSource>> {
  const failures: InputFailure[] = [];
  const needsTopology = vm.cpu.pinning !== undefined || vm.cpu.emulatorPinning !== undefined || (vm.cpu.numa ?? []).some((c) => c.hostNode !== undefined);
  if (needsTopology) failures.push(...topologyFailures(vm, session.host, await hostTopology(session)));
  const passthrough: Record<string, PassthroughSource> = {};
  for (const [slot, dev] of Object.entries(vm.passthrough)) {
    const found = await resolvePassthrough(session, dev.device);
    if (typeof found === "string") failures.push({ property: `passthrough.${slot}.device`, reason: found });
    else passthrough[dev.device] = found;
  }
  if (failures.length > 0) throw new InputError(`VirtualMachine "${vm.name}"`, failures);
  return passthrough;
}

function topologyFailures(vm: VirtualMachineSpec, host: string, topo: HostTopology): InputFailure[] {
  const failures: InputFailure[] = [];
  const cpus = new Set(topo.cpus);
  const hostCpus = `host "${host}" has CPUs ${formatCpuSet(topo.cpus)}`;
  const missingCpus = (set: string) => parseCpuSet(set).filter((c) => !cpus.has(c));
  for (const [vcpu, set] of Object.entries(vm.cpu.pinning ?? {})) {
    const missing = missingCpus(set);
    if (missing.length > 0) failures.push({ property: `cpu.pinning.${vcpu}`, reason: `${describeCpus(missing)}; ${hostCpus}` });
  }
  if (vm.cpu.emulatorPinning !== undefined) {
    const missing = missingCpus(vm.cpu.emulatorPinning);
    if (missing.length > 0) failures.push({ property: "cpu.emulatorPinning", reason: `${describeCpus(missing)}; ${hostCpus}` });
  }
  const nodes = new Set(topo.numaNodes);
  (vm.cpu.numa ?? []).forEach((cell, i) => {
    if (cell.hostNode !== undefined && !nodes.has(cell.hostNode)) {
      failures.push({
        property: `cpu.numa.${i}.hostNode`,
        reason: `host NUMA node ${cell.hostNode} does not exist; host "${host}" has NUMA nodes ${formatCpuSet(topo.numaNodes)}`,
      });
    }
  });
  return failures;
}

function describeCpus(missing: number[]): string {
  return missing.length === 1 ? `host CPU ${missing[0]} does not exist` : `host CPUs ${formatCpuSet(missing)} do not exist`;
}

/** A passthrough device as libvirt addresses it, or why it cannot be passed through. */
async function resolvePassthrough(session: LibvirtSession, device: string): Promise<PassthroughSource | string> {
  const client = await session.get();
  const found = await orAbsent(client.call("nodeDeviceGetXmlDesc", { name: device, flags: 0 }));
  if (!found) return `no device "${device}" on host "${session.host}" (give a PassthroughDevice id such as pci_0000_01_00_0; getHostCapabilities lists the host's devices)`;
  const pci = parsePciDevice(found.xml);
  if (pci) {
    // VFIO can only hand a device to a guest when the IOMMU isolates it.
    if (pci.iommuGroup === undefined)
      return `device ${pci.address} ("${device}") is in no IOMMU group on host "${session.host}"; enable the IOMMU (intel_iommu=on or amd_iommu=on) before passing it through`;
    const [domain, bus, rest] = pci.address.split(":");
    const [slotHex, fn] = rest.split(".");
    return { kind: "pci", address: { domain: parseInt(domain, 16), bus: parseInt(bus, 16), slot: parseInt(slotHex, 16), function: Number(fn) }, managed: true };
  }
  if (/type=['"]usb_device['"]/.test(found.xml)) {
    // libvirt writes <product> before <vendor> for USB devices: look each up on its own.
    const vendor = /<vendor id=['"]0x([0-9a-f]+)['"]/i.exec(found.xml);
    const product = /<product id=['"]0x([0-9a-f]+)['"]/i.exec(found.xml);
    if (vendor && product) return { kind: "usb", vendorId: parseInt(vendor[1], 16), productId: parseInt(product[1], 16), managed: true };
  }
  return `"${device}" is neither a PCI nor a USB device`;
}
