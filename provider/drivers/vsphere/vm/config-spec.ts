// VmSpec → VirtualMachineConfigSpec. Keys are written in the vim25 schema's
// sequence order (see soap/xml.ts). Create and reconfigure share the device
// builders; reconfigure only sends what differs, so unchanged devices are
// never touched (no needless disruption, no perpetual diffs).
import { toXmlValue, type MoRef, type XmlObject, type XmlValue } from "../soap";
import { DISK_SLOT_PREFIX, freeUnits, NIC_SLOT_PREFIX, nicWireType, scsiWireType, type Devices } from "./devices";
import type { DiskSpec, NetworkBinding, NicSpec, VmSpec } from "./spec";

const SCSI_TEMP_KEY = -100;
const GiB_IN_KB = 1024 * 1024;

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
      addressType: "generated",
      externalId: NIC_SLOT_PREFIX + slot,
    },
  };
}

function option(key: string, value: string): XmlObject {
  return { key, value: { $type: "xsd:string", $value: value } };
}

function cloudInitOptions(spec: VmSpec): XmlObject[] {
  const ci = spec.cloudInit;
  if (!ci) return [];
  const out: XmlObject[] = [];
  for (const [name, value] of [["userdata", ci.userData], ["metadata", ci.metaData]] as const) {
    if (value === undefined) continue;
    out.push(option(`guestinfo.${name}`, Buffer.from(value, "utf8").toString("base64")));
    out.push(option(`guestinfo.${name}.encoding`, "base64"));
  }
  return out;
}

function allocation(reservation: number | undefined): XmlObject | undefined {
  return reservation === undefined ? undefined : { reservation };
}

function bootOptions(spec: VmSpec): XmlObject | undefined {
  return spec.secureBoot === undefined ? undefined : { efiSecureBootEnabled: spec.secureBoot };
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
  extraConfig.push(...cloudInitOptions(spec));
  return {
    name: spec.name,
    guestId: spec.guestId ?? "otherGuest64",
    annotation: spec.annotation,
    files: { vmPathName: `[${datastoreName}]` },
    numCPUs: spec.numCPUs,
    numCoresPerSocket: spec.numCoresPerSocket,
    memoryMB: spec.memoryMB,
    memoryHotAddEnabled: spec.memoryHotAddEnabled,
    cpuHotAddEnabled: spec.cpuHotAddEnabled,
    deviceChange,
    cpuAllocation: allocation(spec.cpuReservationMHz),
    memoryAllocation: allocation(spec.memoryReservationMB),
    extraConfig,
    bootOptions: bootOptions(spec),
    firmware: spec.firmware,
  };
}

export interface CurrentConfig {
  readonly spec: VmSpec;
  readonly devices: Devices;
  readonly diskSlots: ReadonlyMap<string, number>;
}

/** Thrown for changes vSphere cannot make in place; the caller plans a replace or refuses. */
export class UnsupportedChangeError extends Error {
  override name = "UnsupportedChangeError";
}

function changed<T>(want: T | undefined, have: T | undefined): T | undefined {
  return want !== undefined && want !== have ? want : undefined;
}

function sameNetwork(a: NetworkBinding | undefined, b: NetworkBinding): boolean {
  if (!a || a.kind !== b.kind) return false;
  if (a.kind === "standard" && b.kind === "standard") return a.network.value === b.network.value;
  if (a.kind === "distributed" && b.kind === "distributed") return a.portgroupKey === b.portgroupKey;
  return false;
}

/**
 * The minimal ReconfigVM_Task spec turning `current` into `desired`, or
 * undefined when nothing differs. Disks grow in place; shrinking is refused.
 */
export function reconfigureSpec(current: CurrentConfig, desired: VmSpec, datastoreName: string): XmlObject | undefined {
  const have = current.spec;
  const deviceChange: XmlObject[] = [];
  const extraConfig: XmlObject[] = [];
  let key = -200;

  const controller = current.devices.scsi.find((c) => c.busNumber === 0);
  let controllerKey = controller?.key;
  const wantsDisks = Object.keys(desired.disks).length > 0;
  if (controllerKey === undefined && wantsDisks) {
    controllerKey = key--;
    deviceChange.push({
      operation: "add",
      device: { $type: scsiWireType[desired.scsiController ?? "pvscsi"], key: controllerKey, busNumber: 0, sharedBus: "noSharing" },
    });
  }
  const byUnit = new Map(current.devices.disks.filter((d) => d.controllerKey === controller?.key).map((d) => [d.unitNumber, d]));
  const nextUnit = freeUnits(byUnit.keys());
  for (const [slot, disk] of Object.entries(desired.disks)) {
    const unit = current.diskSlots.get(slot);
    const device = unit === undefined ? undefined : byUnit.get(unit);
    const wantKB = Math.round(disk.sizeGiB * GiB_IN_KB);
    if (!device) {
      const u = nextUnit();
      deviceChange.push(addDisk(key--, controllerKey as number, u, datastoreName, disk));
      extraConfig.push(option(DISK_SLOT_PREFIX + slot, `scsi0:${u}`));
    } else if (wantKB > device.capacityKB) {
      const whole = toXmlValue(device.raw) as XmlObject;
      deviceChange.push({
        operation: "edit",
        device: {
          ...whole,
          capacityInKB: wantKB,
          // When both are present vCenter reads the byte count.
          capacityInBytes: whole.capacityInBytes === undefined ? undefined : wantKB * 1024,
        },
      });
    } else if (wantKB < device.capacityKB) {
      throw new UnsupportedChangeError(`disk "${slot}" cannot shrink from ${device.capacityKB} KB to ${wantKB} KB`);
    }
  }
  for (const [slot, unit] of current.diskSlots) {
    if (slot in desired.disks) continue;
    const device = byUnit.get(unit);
    if (device) deviceChange.push({ operation: "remove", fileOperation: "destroy", device: toXmlValue(device.raw) });
    extraConfig.push(option(DISK_SLOT_PREFIX + slot, "")); // an empty value deletes the key
  }

  const nicBySlot = new Map(
    current.devices.nics.flatMap((n) => (n.externalId?.startsWith(NIC_SLOT_PREFIX) ? [[n.externalId.slice(NIC_SLOT_PREFIX.length), n] as const] : [])),
  );
  for (const [slot, nic] of Object.entries(desired.nics)) {
    const device = nicBySlot.get(slot);
    const adapter = nic.adapter ?? "vmxnet3";
    if (device && device.adapter !== adapter) {
      throw new UnsupportedChangeError(`NIC "${slot}" cannot change adapter from ${device.adapter} to ${adapter} in place`);
    }
    if (!device) deviceChange.push(addNic(key--, slot, nic));
    else if (!sameNetwork(device.network, nic.network)) {
      deviceChange.push({
        operation: "edit",
        device: { ...(toXmlValue(device.raw) as XmlObject), backing: backingFor(nic.network) },
      });
    }
  }
  for (const [slot, device] of nicBySlot) {
    if (!(slot in desired.nics)) deviceChange.push({ operation: "remove", device: toXmlValue(device.raw) });
  }

  const ci = desired.cloudInit;
  if (ci && (ci.userData !== have.cloudInit?.userData || ci.metaData !== have.cloudInit?.metaData)) {
    extraConfig.push(...cloudInitOptions(desired));
  }

  const out: Record<string, XmlValue | undefined> = {
    name: changed(desired.name, have.name),
    guestId: changed(desired.guestId, have.guestId),
    annotation: changed(desired.annotation, have.annotation),
    numCPUs: changed(desired.numCPUs, have.numCPUs),
    numCoresPerSocket: changed(desired.numCoresPerSocket, have.numCoresPerSocket),
    memoryMB: changed(desired.memoryMB, have.memoryMB),
    memoryHotAddEnabled: changed(desired.memoryHotAddEnabled, have.memoryHotAddEnabled),
    cpuHotAddEnabled: changed(desired.cpuHotAddEnabled, have.cpuHotAddEnabled),
    deviceChange: deviceChange.length ? deviceChange : undefined,
    cpuAllocation: allocation(changed(desired.cpuReservationMHz, have.cpuReservationMHz)),
    memoryAllocation: allocation(changed(desired.memoryReservationMB, have.memoryReservationMB)),
    extraConfig: extraConfig.length ? extraConfig : undefined,
    bootOptions: changed(desired.secureBoot, have.secureBoot) === undefined ? undefined : bootOptions(desired),
    firmware: changed(desired.firmware, have.firmware),
  };
  const entries = Object.entries(out).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as XmlObject) : undefined;
}

export type { MoRef };
