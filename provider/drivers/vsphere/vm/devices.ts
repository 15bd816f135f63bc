// Reading the device list out of a VirtualMachineConfigInfo, and the slot
// bookkeeping that ties devices to the user's slot names.
import { bool, child, moref, num, text, xsiType, type MoRef, type XNode } from "../soap";
import { AHCI_WIRE_TYPE, type CdromDevice, type Controller, parseCdrom } from "./cdrom";
import type { DiskProvisioning, NetworkBinding, NicAdapter, ScsiControllerType } from "./spec";
import { parseUsbAutoconnect, USB_CONTROLLER_WIRE_TYPES, USB_ID_PREFIX } from "./usb";

/** extraConfig key prefix recording which SCSI unit holds a disk slot. */
export const DISK_SLOT_PREFIX = "novacron.disk.";
export const OWNER_KEY = "novacron.owner";
export const LABEL_PREFIX = "novacron.label.";
/** extraConfig key prefix recording which host device (PCI address, or "usb:" and a port path) a passthrough slot holds. */
export const HOSTDEV_SLOT_PREFIX = "novacron.hostdev.";
/** Written to a NIC's externalId so its slot survives reordering and MAC changes. */
export const NIC_SLOT_PREFIX = "novacron:";

export interface DiskDevice {
  /** The device as the server reported it, for edits that must resend it whole. */
  readonly raw: XNode;
  readonly key: number;
  readonly controllerKey: number;
  readonly unitNumber: number;
  readonly capacityKB: number;
  readonly provisioning: DiskProvisioning;
  readonly fileName: string;
  readonly datastore: MoRef | undefined;
}

export interface NicDevice {
  readonly raw: XNode;
  readonly key: number;
  readonly adapter: NicAdapter | string;
  readonly macAddress: string | undefined;
  /** "manual" for a fixed address; "generated" or "assigned" when vSphere chose it. */
  readonly addressType: string | undefined;
  readonly externalId: string | undefined;
  readonly network: NetworkBinding | undefined;
  readonly unitNumber: number | undefined;
}

export interface PciPassthroughDevice {
  readonly raw: XNode;
  readonly key: number;
  /** The backing's PCI address on the host. */
  readonly id: string;
  readonly vendorId: string;
  readonly deviceId: string;
  readonly systemId: string;
  readonly deviceName: string;
}

/** A host USB device connected through a local backing (VirtualUSBUSBBackingInfo). */
export interface UsbDevice {
  readonly kind: "usb";
  readonly raw: XNode;
  readonly key: number;
  /** "usb:" and the port path, as passthrough slots record it. */
  readonly id: string;
  readonly path: string;
  readonly vendorId: string;
  readonly productId: string;
}

export interface ScsiDevice {
  readonly key: number;
  readonly busNumber: number;
  readonly type: ScsiControllerType | string;
}

export interface Devices {
  readonly disks: DiskDevice[];
  readonly nics: NicDevice[];
  readonly scsi: ScsiDevice[];
  readonly pci: PciPassthroughDevice[];
  readonly usb?: UsbDevice[];
  /** The VM's USB controller (vSphere allows one), when it has one. */
  readonly usbController?: { readonly key: number };
  readonly cdroms?: CdromDevice[];
  readonly ide?: Controller[];
  readonly sata?: Controller[];
  /** The virtual TPM, as reported (removal resends it). */
  readonly tpm?: { readonly raw: XNode; readonly key: number };
  /** Every other device, by wire type and vCenter's label: reconfigure never touches these. */
  readonly other?: { type: string; label: string }[];
}

export const scsiWireType: Record<ScsiControllerType, string> = {
  pvscsi: "ParaVirtualSCSIController",
  "lsilogic-sas": "VirtualLsiLogicSASController",
};
export const nicWireType: Record<NicAdapter, string> = {
  vmxnet3: "VirtualVmxnet3",
  e1000e: "VirtualE1000e",
  e1000: "VirtualE1000",
  vmxnet2: "VirtualVmxnet2",
};

function reverse<K extends string>(map: Record<K, string>): Record<string, K> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [v, k])) as Record<string, K>;
}
const scsiByWire = reverse(scsiWireType);
const nicByWire = reverse(nicWireType);

function networkOf(backing: XNode | undefined): NetworkBinding | undefined {
  switch (xsiType(backing)) {
    case "VirtualEthernetCardNetworkBackingInfo": {
      const network = moref(backing, "network");
      return network ? { kind: "standard", network, name: text(backing, "deviceName") ?? "" } : undefined;
    }
    case "VirtualEthernetCardDistributedVirtualPortBackingInfo": {
      const port = child(backing, "port");
      return {
        kind: "distributed",
        portgroupKey: text(port, "portgroupKey") ?? "",
        switchUuid: text(port, "switchUuid") ?? "",
      };
    }
    default:
      return undefined;
  }
}

export function parseDevices(hardware: XNode | undefined): Devices {
  const out: { -readonly [K in keyof Devices]: Devices[K] } = { disks: [], nics: [], scsi: [], pci: [], usb: [], cdroms: [], ide: [], sata: [], other: [] };
  for (const d of hardware?.children ?? []) {
    if (d.name !== "device") continue;
    const type = xsiType(d) ?? "";
    const key = num(d, "key") ?? 0;
    const backing = child(d, "backing");
    if (type === "VirtualDisk") {
      const thin = bool(backing, "thinProvisioned") ?? false;
      out.disks.push({
        raw: d,
        key,
        controllerKey: num(d, "controllerKey") ?? 0,
        unitNumber: num(d, "unitNumber") ?? 0,
        capacityKB: num(d, "capacityInKB") ?? 0,
        provisioning: thin ? "thin" : bool(backing, "eagerlyScrub") ? "eagerZeroedThick" : "thick",
        fileName: text(backing, "fileName") ?? "",
        datastore: moref(backing, "datastore"),
      });
    } else if (child(d, "addressType") !== undefined || nicByWire[type] !== undefined) {
      out.nics.push({
        raw: d,
        key,
        adapter: nicByWire[type] ?? type,
        macAddress: text(d, "macAddress"),
        addressType: text(d, "addressType"),
        externalId: text(d, "externalId"),
        network: networkOf(backing),
        unitNumber: num(d, "unitNumber"),
      });
    } else if (type === "VirtualPCIPassthrough" && xsiType(backing) === "VirtualPCIPassthroughDeviceBackingInfo") {
      out.pci.push({
        raw: d,
        key,
        id: text(backing, "id") ?? "",
        // deviceId is a hex string on the wire, vendorId a signed 16-bit number.
        deviceId: (text(backing, "deviceId") ?? "").replace(/^0x/i, "").toLowerCase().padStart(4, "0"),
        vendorId: ((num(backing, "vendorId") ?? 0) & 0xffff).toString(16).padStart(4, "0"),
        systemId: text(backing, "systemId") ?? "",
        deviceName: text(backing, "deviceName") ?? "",
      });
    } else if (type === "VirtualUSB" && xsiType(backing) === "VirtualUSBUSBBackingInfo" && parseUsbAutoconnect(text(backing, "deviceName") ?? "")) {
      const pattern = parseUsbAutoconnect(text(backing, "deviceName") ?? "")!;
      const hex4 = (n: number | undefined) => (n === undefined ? undefined : (n & 0xffff).toString(16).padStart(4, "0"));
      out.usb!.push({
        kind: "usb",
        raw: d,
        key,
        id: USB_ID_PREFIX + pattern.path,
        path: pattern.path,
        // The device's own fields when vCenter reports them, else the ids the pattern names.
        vendorId: hex4(num(d, "vendor")) ?? pattern.vendorId ?? "0000",
        productId: hex4(num(d, "product")) ?? pattern.productId ?? "0000",
      });
    } else if ((USB_CONTROLLER_WIRE_TYPES as readonly string[]).includes(type)) {
      out.usbController = { key };
      out.other?.push({ type, label: text(child(d, "deviceInfo"), "label") ?? type });
    } else if (type === "VirtualCdrom") {
      out.cdroms!.push(parseCdrom(d));
      // Also listed among the others: unmanaged while the program writes no cdroms.
      out.other?.push({ type, label: text(child(d, "deviceInfo"), "label") ?? type });
    } else if (type === "VirtualIDEController" || type === AHCI_WIRE_TYPE) {
      (type === AHCI_WIRE_TYPE ? out.sata! : out.ide!).push({ key, busNumber: num(d, "busNumber") ?? 0 });
      out.other?.push({ type, label: text(child(d, "deviceInfo"), "label") ?? type });
    } else if (type === "VirtualTPM") {
      out.tpm = { raw: d, key };
    } else if (child(d, "sharedBus") !== undefined) {
      out.scsi.push({ key, busNumber: num(d, "busNumber") ?? 0, type: scsiByWire[type] ?? type });
    } else {
      out.other?.push({ type, label: text(child(d, "deviceInfo"), "label") ?? type });
    }
  }
  return out;
}

export function parseExtraConfig(extra: readonly XNode[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of extra) {
    const key = text(o, "key");
    if (key !== undefined) out.set(key, text(o, "value") ?? "");
  }
  return out;
}

/** Slot → SCSI unit number, from the extraConfig bookkeeping. */
export function diskSlots(extraConfig: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of extraConfig) {
    if (!k.startsWith(DISK_SLOT_PREFIX) || v === "") continue;
    const unit = Number(v.replace(/^scsi\d+:/, ""));
    if (Number.isInteger(unit)) out.set(k.slice(DISK_SLOT_PREFIX.length), unit);
  }
  return out;
}

/** Passthrough slot → host PCI address, from the extraConfig bookkeeping. */
export function hostdevSlots(extraConfig: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of extraConfig) if (k.startsWith(HOSTDEV_SLOT_PREFIX) && v !== "") out.set(k.slice(HOSTDEV_SLOT_PREFIX.length), v);
  return out;
}

/** SCSI unit 7 belongs to the controller itself. */
export function freeUnits(used: Iterable<number>): () => number {
  const taken = new Set(used);
  return () => {
    for (let u = 0; u < 64; u++) {
      if (u !== 7 && !taken.has(u)) {
        taken.add(u);
        return u;
      }
    }
    throw new RangeError("no free SCSI unit on controller 0");
  };
}

/** Devices by slot name, the one identity create, read and reconfigure agree on. */
export interface SlotIndex {
  readonly disks: ReadonlyMap<string, DiskDevice>;
  readonly nics: ReadonlyMap<string, NicDevice>;
  /** PCI and USB passthrough devices. */
  readonly passthrough: ReadonlyMap<string, PciPassthroughDevice | UsbDevice>;
}

/**
 * Disks we created are found through their extraConfig unit record, NICs
 * through their externalId. Devices we did not create (a template's, an
 * adopted VM's) get synthetic slots — "scsi:<controllerKey>:<unit>" and
 * "nic<index>" — so reading a VM and applying what was read changes nothing.
 */
export function indexSlots(devices: Devices, slots: ReadonlyMap<string, number>, hostdevs: ReadonlyMap<string, string> = new Map()): SlotIndex {
  const controller = devices.scsi.find((c) => c.busNumber === 0);
  const disks = new Map<string, DiskDevice>();
  const claimed = new Set<DiskDevice>();
  for (const [slot, unit] of slots) {
    const d = devices.disks.find((x) => x.controllerKey === controller?.key && x.unitNumber === unit);
    if (d) {
      disks.set(slot, d);
      claimed.add(d);
    }
  }
  for (const d of devices.disks) {
    if (!claimed.has(d)) disks.set(`scsi:${d.controllerKey}:${d.unitNumber}`, d);
  }
  const nics = new Map<string, NicDevice>();
  devices.nics.forEach((n, i) => {
    nics.set(n.externalId?.startsWith(NIC_SLOT_PREFIX) ? n.externalId.slice(NIC_SLOT_PREFIX.length) : `nic${i}`, n);
  });
  return { disks, nics, passthrough: indexPassthroughSlots([...devices.pci, ...(devices.usb ?? [])], hostdevs) };
}

/**
 * A passthrough device has no externalId, so its slot is the extraConfig record naming its PCI
 * address or USB port; one we did not add gets the synthetic slot "pci<index>" or "usb<index>".
 */
function indexPassthroughSlots(devices: readonly (PciPassthroughDevice | UsbDevice)[], hostdevs: ReadonlyMap<string, string>): Map<string, PciPassthroughDevice | UsbDevice> {
  const out = new Map<string, PciPassthroughDevice | UsbDevice>();
  const claimed = new Set<PciPassthroughDevice | UsbDevice>();
  for (const [slot, id] of hostdevs) {
    const device = devices.find((p) => p.id === id && !claimed.has(p));
    if (device) {
      out.set(slot, device);
      claimed.add(device);
    }
  }
  let pci = 0;
  let usb = 0;
  for (const p of devices) {
    const kind = "kind" in p && p.kind === "usb" ? "usb" : "pci";
    const index = kind === "usb" ? usb++ : pci++;
    if (!claimed.has(p)) out.set(`${kind}${index}`, p);
  }
  return out;
}
