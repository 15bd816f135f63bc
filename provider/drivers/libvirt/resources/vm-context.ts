import { buildNoCloudSeed, seedInstanceId } from "../../../core/cloud-init";
import type { VirtualMachineSpec } from "../../../core/model";
import { parsePciDevice } from "../host-capabilities";
import { hostDomainType } from "../host-facts";
import type { LibvirtClient } from "../rpc";
import type { LibvirtSession } from "../session";
import { orAbsent } from "../session";
import { ensureVolume, resolveVolume } from "../volumes";
import type { DiskSource, DomainBuildContext, DomainType, PassthroughSource } from "../xml";

const GIB = 1024 ** 3;

/** Names of the volumes NovaCron makes for a VM, so delete can find them again. */
export function blankDiskName(vm: string, slot: string): string {
  return `${vm}-${slot}.qcow2`;
}
export function seedVolumeName(vm: string): string {
  return `${vm}-cidata.iso`;
}

/**
 * Resolves everything the model refers to by id into what libvirt addresses: volume paths,
 * blank disks and the cloud-init seed (made on the host if missing), passthrough addresses.
 */
export async function resolveDomainContext(
  session: LibvirtSession,
  vm: VirtualMachineSpec,
  known: { uuid?: string; macs?: Record<string, string> } = {},
): Promise<DomainBuildContext> {
  const client = await session.get();
  const disks: Record<string, DiskSource> = {};
  let seedPool: string | undefined;
  for (const [slot, disk] of Object.entries(vm.disks)) {
    if (disk.volume) {
      const found = await resolveVolume(client, disk.volume);
      if (!found) throw new Error(`disks.${slot}.volume: no volume "${disk.volume}" on host "${session.host}" (give a Volume id, its path, or pool/name)`);
      disks[slot] = { kind: "file", path: found.path, format: disk.format ?? found.format ?? "raw" };
      seedPool ??= found.ref.pool;
    } else {
      const made = await ensureVolume(client, disk.pool!, { name: blankDiskName(vm.name, slot), capacityBytes: Math.round(disk.sizeGiB! * GIB), format: "qcow2" });
      disks[slot] = { kind: "file", path: made.path, format: "qcow2" };
      seedPool ??= disk.pool;
    }
  }
  const passthrough: Record<string, PassthroughSource> = {};
  for (const [slot, dev] of Object.entries(vm.passthrough)) passthrough[dev.device] = await resolvePassthrough(client, slot, dev.device);
  let cloudInitSeed: string | undefined;
  if (vm.cloudInit) {
    if (!seedPool) throw new Error("cloudInit: the seed ISO is stored in the pool of the VM's first disk, and this VM has no disk");
    const { userData, metaData, networkConfig } = vm.cloudInit;
    const image = buildNoCloudSeed({ userData, metaData, networkConfig, instanceId: seedInstanceId(userData, metaData, networkConfig), hostname: vm.name });
    cloudInitSeed = (await ensureVolume(client, seedPool, { name: seedVolumeName(vm.name), capacityBytes: image.length, format: "raw", content: image })).path;
  }
  const type = await hostDomainType(session);
  return {
    // The test driver accepts its own type only; the builder treats it like TCG.
    type: type as DomainType,
    uuid: known.uuid,
    disks,
    macs: known.macs,
    passthrough,
    cloudInitSeed,
    boot: vm.kernelBoot,
    ownership: { resource: vm.name },
  };
}

async function resolvePassthrough(client: LibvirtClient, slot: string, device: string): Promise<PassthroughSource> {
  const found = await orAbsent(client.call("nodeDeviceGetXmlDesc", { name: device, flags: 0 }));
  if (!found) throw new Error(`passthrough.${slot}.device: no device "${device}" on this host (give a PassthroughDevice id such as pci_0000_01_00_0)`);
  const pci = parsePciDevice(found.xml);
  if (pci) {
    const [domain, bus, rest] = pci.address.split(":");
    const [slotHex, fn] = rest.split(".");
    return { kind: "pci", address: { domain: parseInt(domain, 16), bus: parseInt(bus, 16), slot: parseInt(slotHex, 16), function: Number(fn) }, managed: true };
  }
  const usb = /<vendor id='0x([0-9a-f]+)'[\s\S]*?<product id='0x([0-9a-f]+)'/i.exec(found.xml);
  if (usb && /type='usb_device'/.test(found.xml)) return { kind: "usb", vendorId: parseInt(usb[1], 16), productId: parseInt(usb[2], 16), managed: true };
  throw new Error(`passthrough.${slot}.device: "${device}" is neither a PCI nor a USB device`);
}
