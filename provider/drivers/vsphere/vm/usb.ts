// Host USB devices given to a VM: what an ESXi host offers (its USB arbitrator's
// devices, as the VM's config target lists them) and the VirtualUSB device with a
// local host backing that connects one, on the VM's one USB controller.
import { getProperties, moref, num, text, type MoRef, type VimClient, type XmlObject } from "../soap";
import { configTargetItems } from "./pci";
import type { UsbPassthroughSpec } from "./spec";

export interface HostUsbDevice {
  /** The port path on the host, "1/0/1": with the ids it names the device in a VM's backing. */
  readonly path: string;
  /** Four lower-case hex digits each. */
  readonly vendorId: string;
  readonly productId: string;
  readonly name: string;
  readonly description: string;
}

/** What a passthrough slot's device id is for a USB device: the port path, marked as such. */
export const USB_ID_PREFIX = "usb:";

const hex4 = (n: number | undefined) => ((n ?? 0) & 0xffff).toString(16).padStart(4, "0");

/** The USB devices a VM on `host` can be given (empty when the host's USB arbitrator lists none). */
export async function listHostUsbDevices(client: VimClient, host: MoRef): Promise<HostUsbDevice[]> {
  const parent = moref((await getProperties(client, host, ["parent"])).props.get("parent"));
  if (!parent) return [];
  return (await configTargetItems(client, parent, host, "usb")).map((u) => ({
    path: text(u, "physicalPath") ?? "",
    vendorId: hex4(num(u, "vendor")),
    productId: hex4(num(u, "product")),
    name: text(u, "name") ?? "",
    description: text(u, "description") ?? "",
  }));
}

export function usbSpecOf(device: HostUsbDevice): UsbPassthroughSpec {
  return { kind: "usb", id: USB_ID_PREFIX + device.path, path: device.path, vendorId: device.vendorId, productId: device.productId };
}

/**
 * The autoconnect pattern of a local USB backing: the port path and the device's ids, so the VM
 * connects exactly that device at that port (space-separated name:value pairs).
 */
export function usbAutoconnect(dev: Pick<UsbPassthroughSpec, "path" | "vendorId" | "productId">): string {
  return `path:${dev.path} vid:0x${dev.vendorId} pid:0x${dev.productId}`;
}

/** The pattern back to its fields; undefined without a path (a pattern NovaCron did not write). */
export function parseUsbAutoconnect(pattern: string): { path: string; vendorId?: string; productId?: string } | undefined {
  const fields = new Map<string, string>();
  // A backslash escapes the next character (a space inside a value).
  for (const pair of pattern.match(/(?:\\.|[^\s\\])+/g) ?? []) {
    const at = pair.indexOf(":");
    if (at > 0) fields.set(pair.slice(0, at), pair.slice(at + 1).replace(/\\(.)/g, "$1"));
  }
  const path = fields.get("path");
  if (!path) return undefined;
  const id = (v: string | undefined) => (v === undefined ? undefined : v.replace(/^0x/i, "").toLowerCase().padStart(4, "0"));
  return { path, vendorId: id(fields.get("vid")), productId: id(fields.get("pid")) };
}

/** The xHCI controller (USB 3 and 2 devices) a VM needs before any USB device; vSphere allows one. */
export const USB_CONTROLLER_WIRE_TYPES = ["VirtualUSBXHCIController", "VirtualUSBController"] as const;

export function addUsbController(key: number): XmlObject {
  return { operation: "add", device: { $type: "VirtualUSBXHCIController", key, busNumber: 0, autoConnectDevices: false } };
}

/** A host USB device on the VM's USB controller; the slot is recorded separately (hostdevOption). */
export function addUsb(key: number, controllerKey: number, dev: UsbPassthroughSpec): XmlObject {
  return {
    operation: "add",
    device: {
      $type: "VirtualUSB",
      key,
      backing: { $type: "VirtualUSBUSBBackingInfo", deviceName: usbAutoconnect(dev) },
      controllerKey,
      connected: true,
      vendor: parseInt(dev.vendorId, 16),
      product: parseInt(dev.productId, 16),
    },
  };
}
