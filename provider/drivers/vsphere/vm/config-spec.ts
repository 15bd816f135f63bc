// VmSpec → VirtualMachineConfigSpec for a new VM, and the device/option
// builders reconfigure-spec.ts shares. Keys are written in the vim25 schema's
// sequence order (see soap/xml.ts).
import type { XmlObject } from "../soap";
import { DISK_SLOT_PREFIX, freeUnits, HOSTDEV_SLOT_PREFIX, LABEL_PREFIX, NIC_SLOT_PREFIX, nicWireType, OWNER_KEY, scsiWireType } from "./devices";
import { signed16 } from "./pci";
import type { DiskSpec, NetworkBinding, NicSpec, PassthroughSpec, PciPassthroughSpec, VmSpec } from "./spec";
import { addUsb, addUsbController } from "./usb";

const SCSI_TEMP_KEY = -100;
export const GiB_IN_KB = 1024 * 1024;

export function backingFor(net: NetworkBinding): XmlObject {
  if (net.kind === "standard") {
    return { $type: "VirtualEthernetCardNetworkBackingInfo", deviceName: net.name, network: net.network };
  }
  return {
    $type: "VirtualEthernetCardDistributedVirtualPortBackingInfo",
    port: { switchUuid: net.switchUuid, portgroupKey: net.portgroupKey },
  };
}

function diskBacking(datastoreName: string, disk: DiskSpec): XmlObject {
  const p = disk.provisioning ?? "thin";
  return {
    $type: "VirtualDiskFlatVer2BackingInfo",
    fileName: `[${datastoreName}]`,
    diskMode: "persistent",
    thinProvisioned: p === "thin",
    eagerlyScrub: p === "eagerZeroedThick",
  };
}

export function addDisk(key: number, controllerKey: number, unit: number, datastoreName: string, disk: DiskSpec): XmlObject {
  if (disk.file !== undefined) {
    // No fileOperation: the file exists and is used as it is; vCenter reads its size from it.
    return {
      operation: "add",
      device: {
        $type: "VirtualDisk",
        key,
        backing: { $type: "VirtualDiskFlatVer2BackingInfo", fileName: disk.file, diskMode: "persistent" },
        controllerKey,
        unitNumber: unit,
        // A size when the caller knows it (a moved disk): vCenter takes it from the file, the simulator only from here.
        capacityInKB: disk.sizeGiB > 0 ? Math.round(disk.sizeGiB * GiB_IN_KB) : 0,
      },
    };
  }
  return {
    operation: "add",
    fileOperation: "create",
    device: {
      $type: "VirtualDisk",
      key,
      backing: diskBacking(datastoreName, disk),
      controllerKey,
      unitNumber: unit,
      capacityInKB: Math.round(disk.sizeGiB * GiB_IN_KB),
    },
  };
}

export function addNic(key: number, slot: string, nic: NicSpec): XmlObject {
  return {
    operation: "add",
    device: {
      $type: nicWireType[nic.adapter ?? "vmxnet3"],
      key,
      backing: backingFor(nic.network),
      connectable: { startConnected: true, allowGuestControl: true, connected: false },
      ...addressOf(nic),
      externalId: NIC_SLOT_PREFIX + slot,
    },
  };
}

/**
 * A host PCI or USB device for the VM; the slot is recorded separately (hostdevOption). A USB
 * device needs the key of the VM's USB controller (an existing one, or one added in the same spec).
 */
export function addPassthrough(key: number, dev: PassthroughSpec, usbControllerKey: number | undefined): XmlObject {
  if (dev.kind !== "usb") return addPciPassthrough(key, dev);
  if (usbControllerKey === undefined) throw new Error(`USB device ${dev.id} needs the VM's USB controller, and none is present or added`);
  return addUsb(key, usbControllerKey, dev);
}

function addPciPassthrough(key: number, dev: PciPassthroughSpec): XmlObject {
  return {
    operation: "add",
    device: {
      $type: "VirtualPCIPassthrough",
      key,
      backing: {
        $type: "VirtualPCIPassthroughDeviceBackingInfo",
        deviceName: dev.deviceName,
        id: dev.id,
        // deviceId travels as a hex string, vendorId as a signed 16-bit number.
        deviceId: parseInt(dev.deviceId, 16).toString(16),
        systemId: dev.systemId,
        vendorId: signed16(dev.vendorId),
      },
    },
  };
}

/** The extraConfig record tying a passthrough slot to its device's PCI address; an empty id deletes it. */
export function hostdevOption(slot: string, id: string): XmlObject {
  return option(HOSTDEV_SLOT_PREFIX + slot, id);
}

/** addressType/macAddress of a NIC, in schema order: a fixed address is "manual", otherwise vCenter generates one. */
export function addressOf(nic: Pick<NicSpec, "macAddress">): XmlObject {
  return nic.macAddress === undefined ? { addressType: "generated" } : { addressType: "manual", macAddress: nic.macAddress };
}

export function option(key: string, value: string): XmlObject {
  return { key, value: { $type: "xsd:string", $value: value } };
}

export function cloudInitOptions(spec: VmSpec): XmlObject[] {
  const ci = spec.cloudInit;
  if (!ci) return [];
  const out: XmlObject[] = [];
  for (const [name, value] of [
    ["userdata", ci.userData],
    ["metadata", ci.metaData],
  ] as const) {
    if (value === undefined) continue;
    out.push(option(`guestinfo.${name}`, Buffer.from(value, "utf8").toString("base64")));
    out.push(option(`guestinfo.${name}.encoding`, "base64"));
  }
  return out;
}

/** Owner mark and labels as extraConfig options; keys in `drop` are deleted (vSphere deletes a key given an empty value). */
export function metadataOptions(spec: Pick<VmSpec, "owner" | "labels">, drop: readonly string[] = []): XmlObject[] {
  const out: XmlObject[] = [];
  if (spec.owner !== undefined) out.push(option(OWNER_KEY, spec.owner));
  for (const [k, v] of Object.entries(spec.labels ?? {})) out.push(option(LABEL_PREFIX + k, v));
  for (const k of drop) out.push(option(LABEL_PREFIX + k, ""));
  return out;
}

export function allocation(reservation: number | undefined): XmlObject | undefined {
  return reservation === undefined ? undefined : { reservation };
}

/**
 * VirtualMachineBootOptions in schema order (efiSecureBootEnabled before bootOrder). `order`, as
 * bootOrderEntries() gives it, is sent when given; an empty one sends bootOptions without an
 * order, which clears it where the server replaces bootOptions whole (the simulator does).
 */
export function bootOptions(spec: VmSpec, order?: readonly XmlObject[]): XmlObject | undefined {
  if (spec.secureBoot === undefined && order === undefined) return undefined;
  return { efiSecureBootEnabled: spec.secureBoot, bootOrder: order !== undefined && order.length > 0 ? [...order] : undefined };
}

/** A virtual TPM; vCenter provisions its keys through the configured key provider. */
export function addTpm(key: number): XmlObject {
  return { operation: "add", device: { $type: "VirtualTPM", key } };
}

/** cpuAffinity for a spec: an empty set lifts the restriction. */
export function cpuAffinity(cpus: readonly number[] | undefined): XmlObject | undefined {
  return cpus === undefined ? undefined : { affinitySet: [...cpus] };
}

/** The full spec for CreateVM_Task / the config part of a clone. */
export function createConfigSpec(spec: VmSpec, datastoreName: string): XmlObject {
  const deviceChange: XmlObject[] = [];
  const extraConfig: XmlObject[] = [];
  const disks = Object.entries(spec.disks);
  if (disks.length > 0) {
    deviceChange.push({
      operation: "add",
      device: {
        $type: scsiWireType[spec.scsiController ?? "pvscsi"],
        key: SCSI_TEMP_KEY,
        busNumber: 0,
        sharedBus: "noSharing",
      },
    });
  }
  const nextUnit = freeUnits([]);
  let key = SCSI_TEMP_KEY - 1;
  for (const [slot, disk] of disks) {
    const unit = nextUnit();
    deviceChange.push(addDisk(key--, SCSI_TEMP_KEY, unit, datastoreName, disk));
    extraConfig.push(option(DISK_SLOT_PREFIX + slot, `scsi0:${unit}`));
  }
  for (const [slot, nic] of Object.entries(spec.nics)) deviceChange.push(addNic(key--, slot, nic));
  const passthrough = Object.entries(spec.passthrough ?? {});
  const usbController = passthrough.some(([, dev]) => dev.kind === "usb") ? key-- : undefined;
  if (usbController !== undefined) deviceChange.push(addUsbController(usbController));
  for (const [slot, dev] of passthrough) {
    deviceChange.push(addPassthrough(key--, dev, usbController));
    extraConfig.push(hostdevOption(slot, dev.id));
  }
  if (spec.tpm) deviceChange.push(addTpm(key--));
  extraConfig.push(...cloudInitOptions(spec), ...metadataOptions(spec));
  return {
    name: spec.name,
    guestId: spec.guestId ?? "otherGuest64",
    annotation: spec.annotation,
    // A folder that exists already (moved disks wait in it) is named with the .vmx: vCenter
    // would otherwise make a second folder beside it, and the disks would not be the VM's own.
    files: { vmPathName: spec.folder ? `[${datastoreName}] ${spec.folder}/${spec.name}.vmx` : `[${datastoreName}]` },
    numCPUs: spec.numCPUs,
    numCoresPerSocket: spec.numCoresPerSocket,
    memoryMB: spec.memoryMB,
    memoryHotAddEnabled: spec.memoryHotAddEnabled,
    cpuHotAddEnabled: spec.cpuHotAddEnabled,
    deviceChange,
    cpuAllocation: allocation(spec.cpuReservationMHz),
    memoryAllocation: allocation(spec.memoryReservationMB),
    cpuAffinity: cpuAffinity(spec.cpuAffinity),
    extraConfig,
    bootOptions: bootOptions(spec),
    firmware: spec.firmware,
    memoryReservationLockedToMax: spec.memoryReservationLockedToMax,
  };
}
