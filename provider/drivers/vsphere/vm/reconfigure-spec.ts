// The minimal ReconfigVM_Task spec between what a VM is and what it should be.
// Only differences are sent, so unchanged devices are never touched (no
// needless disruption, no perpetual diffs); devices are matched by slot, never
// by position.
import { toXmlValue, type XmlObject, type XmlValue } from "../soap";
import {
  addDisk,
  addNic,
  addPassthrough,
  addressOf,
  addTpm,
  cpuAffinity,
  allocation,
  backingFor,
  bootOptions,
  cloudInitOptions,
  GiB_IN_KB,
  hostdevOption,
  metadataOptions,
  option,
} from "./config-spec";
import { bootOrderEntries, sameBootOrder } from "./boot-order";
import { cdromChanges } from "./cdrom";
import { addUsbController } from "./usb";
import { DISK_SLOT_PREFIX, freeUnits, indexSlots, scsiWireType, type Devices, type NicDevice } from "./devices";
import type { NetworkBinding, VmSpec } from "./spec";

export interface CurrentConfig {
  readonly spec: VmSpec;
  readonly devices: Devices;
  readonly diskSlots: ReadonlyMap<string, number>;
  /** Passthrough slot → host PCI address or "usb:<port path>", from extraConfig. */
  readonly hostdevSlots?: ReadonlyMap<string, string>;
  /** "[datastore] folder/" of the VM's files: disks outside it are not the VM's to delete. */
  readonly homeDir?: string;
}

/** Whether removing this disk may delete its file: only files in the VM's own folder. */
export function ownsFile(current: Pick<CurrentConfig, "homeDir">, fileName: string): boolean {
  return current.homeDir === undefined || fileName.startsWith(current.homeDir);
}

/** Thrown for changes vSphere cannot make in place; the caller plans a replace or refuses. */
export class UnsupportedChangeError extends Error {
  override name = "UnsupportedChangeError";
}

function changed<T>(want: T | undefined, have: T | undefined): T | undefined {
  return want !== undefined && want !== have ? want : undefined;
}

/** A wanted manual address matches a manual one on the device; no wanted address matches any non-manual one. */
export function sameAddress(device: Pick<NicDevice, "addressType" | "macAddress">, wanted: string | undefined): boolean {
  if (wanted === undefined) return device.addressType !== "manual";
  return device.addressType === "manual" && device.macAddress?.toLowerCase() === wanted;
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
  const slots = indexSlots(current.devices, current.diskSlots, current.hostdevSlots);
  const nextUnit = freeUnits(current.devices.disks.filter((d) => d.controllerKey === controllerKey).map((d) => d.unitNumber));
  for (const [slot, disk] of Object.entries(desired.disks)) {
    const device = slots.disks.get(slot);
    const wantKB = Math.round(disk.sizeGiB * GiB_IN_KB);
    if (disk.file !== undefined && device && device.fileName !== disk.file) {
      // Another file in this slot: the old one is detached (kept when it is not the VM's own), the new one attached.
      deviceChange.push({ operation: "remove", fileOperation: ownsFile(current, device.fileName) ? "destroy" : undefined, device: toXmlValue(device.raw) });
      const u = nextUnit();
      deviceChange.push(addDisk(key--, controllerKey as number, u, datastoreName, disk));
      extraConfig.push(option(DISK_SLOT_PREFIX + slot, `scsi0:${u}`));
    } else if (disk.file !== undefined && device) {
      // An attached file keeps its own size.
    } else if (!device) {
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
  for (const [slot, device] of slots.disks) {
    if (slot in desired.disks) continue;
    deviceChange.push({ operation: "remove", fileOperation: ownsFile(current, device.fileName) ? "destroy" : undefined, device: toXmlValue(device.raw) });
    if (current.diskSlots.has(slot)) extraConfig.push(option(DISK_SLOT_PREFIX + slot, "")); // an empty value deletes the key
  }

  for (const [slot, nic] of Object.entries(desired.nics)) {
    const device = slots.nics.get(slot);
    const adapter = nic.adapter ?? "vmxnet3";
    if (device && device.adapter !== adapter) {
      throw new UnsupportedChangeError(`NIC "${slot}" cannot change adapter from ${device.adapter} to ${adapter} in place`);
    }
    if (!device) {
      deviceChange.push(addNic(key--, slot, nic));
      continue;
    }
    const moved = !sameNetwork(device.network, nic.network);
    const readdressed = !sameAddress(device, nic.macAddress);
    if (moved || readdressed) {
      // One edit carries both; the device is resent as reported with only these fields replaced.
      const whole = toXmlValue(device.raw) as XmlObject;
      deviceChange.push({
        operation: "edit",
        device: {
          ...whole,
          ...(moved ? { backing: backingFor(nic.network) } : {}),
          // Back to a generated address: the old manual one is dropped so vCenter picks a new one.
          ...(readdressed ? { addressType: undefined, macAddress: undefined, ...addressOf(nic) } : {}),
        },
      });
    }
  }
  for (const [slot, device] of slots.nics) {
    // A NIC on a network NovaCron cannot name (NSX, an opaque network) is never in a spec: it stays.
    if (!(slot in desired.nics) && device.network !== undefined) deviceChange.push({ operation: "remove", device: toXmlValue(device.raw) });
  }

  // A slot now naming another device is the old one removed and the new one added.
  const wantedPassthrough = desired.passthrough ?? {};
  for (const [slot, device] of slots.passthrough) {
    if (wantedPassthrough[slot]?.id === device.id) continue;
    deviceChange.push({ operation: "remove", device: toXmlValue(device.raw) });
    if (!(slot in wantedPassthrough) && current.hostdevSlots?.has(slot)) extraConfig.push(hostdevOption(slot, ""));
  }
  const added = Object.entries(wantedPassthrough).filter(([slot, dev]) => slots.passthrough.get(slot)?.id !== dev.id);
  // A USB device needs the VM's one USB controller: the existing one, else one added here (kept
  // afterwards, like the IDE and SATA controllers CD-ROM drives sit on).
  let usbController = current.devices.usbController?.key;
  if (usbController === undefined && added.some(([, dev]) => dev.kind === "usb")) {
    usbController = key--;
    deviceChange.push(addUsbController(usbController));
  }
  for (const [slot, dev] of added) {
    deviceChange.push(addPassthrough(key--, dev, usbController));
    extraConfig.push(hostdevOption(slot, dev.id));
  }

  if (desired.cdroms !== undefined) {
    const devices = current.devices;
    deviceChange.push(...cdromChanges(desired.cdroms, devices.cdroms ?? [], { ide: devices.ide ?? [], sata: devices.sata ?? [] }, () => key--));
  }
  // The TPM is added or removed whole; vCenter takes either only while the VM is powered off.
  if (desired.tpm === true && !current.devices.tpm) deviceChange.push(addTpm(key--));
  if (desired.tpm === false && current.devices.tpm) deviceChange.push({ operation: "remove", device: toXmlValue(current.devices.tpm.raw) });
  const affinityChanged = desired.cpuAffinity !== undefined ? !sameCpus(desired.cpuAffinity, have.cpuAffinity ?? []) : (have.cpuAffinity ?? []).length > 0;

  // The boot order names devices by key: one added in this same change gets it in a second pass
  // (reconfigureVm), so until then the order is left as it is.
  const wantedBoot = desired.bootOrder === undefined ? undefined : bootOrderEntries(desired.bootOrder, slots);
  const bootChanged = wantedBoot !== undefined && !sameBootOrder(desired.bootOrder!, have.bootOrder ?? []);
  const secureBootChanged = changed(desired.secureBoot, have.secureBoot) !== undefined;

  const ci = desired.cloudInit;
  if (ci && (ci.userData !== have.cloudInit?.userData || ci.metaData !== have.cloudInit?.metaData)) {
    extraConfig.push(...cloudInitOptions(desired));
  }

  extraConfig.push(...metadataChanges(have, desired));

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
    // No affinity wanted where the VM has one: an empty set lifts it.
    cpuAffinity: affinityChanged ? cpuAffinity(desired.cpuAffinity ?? []) : undefined,
    extraConfig: extraConfig.length ? extraConfig : undefined,
    // Sent whole (the secure boot switch and the order), so neither is lost where the server
    // replaces bootOptions rather than merging it.
    bootOptions: secureBootChanged || bootChanged ? bootOptions(desired, wantedBoot ?? bootOrderEntries(have.bootOrder ?? [], slots) ?? []) : undefined,
    firmware: changed(desired.firmware, have.firmware),
    // Unset on the server reads as false.
    memoryReservationLockedToMax: changed(desired.memoryReservationLockedToMax, have.memoryReservationLockedToMax ?? false),
  };
  const entries = Object.entries(out).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as XmlObject) : undefined;
}

function sameCpus(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Owner and labels that differ; labels absent from `desired` are removed. Undefined `labels` leaves them alone. */
function metadataChanges(have: VmSpec, desired: VmSpec): XmlObject[] {
  const owner = changed(desired.owner, have.owner);
  const labels: Record<string, string> = {};
  const drop: string[] = [];
  if (desired.labels) {
    for (const [k, v] of Object.entries(desired.labels)) if (have.labels?.[k] !== v) labels[k] = v;
    for (const k of Object.keys(have.labels ?? {})) if (!(k in desired.labels)) drop.push(k);
  }
  return metadataOptions({ owner, labels }, drop);
}
