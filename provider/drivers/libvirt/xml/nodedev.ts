import type { PciAddress } from "./domain-context";
import { parseXml, type XmlNode } from "./dom";
import { intAttr, intText } from "./units";

export interface PciNodeDevice {
  /** Libvirt's node device name, e.g. pci_0000_3b_00_0. */
  name: string;
  parent?: string;
  /** The host driver bound now: vfio-pci once detached for passthrough. */
  driver?: string;
  address: PciAddress;
  /** `0000:3b:00.0`, the model's pciAddress spelling. */
  addressText: string;
  vendor: { id: number; name?: string };
  product: { id: number; name?: string };
  /** 24-bit PCI class code, e.g. 0x030000 for a VGA controller. */
  classCode?: number;
  /** `10de:1eb8`, the model's vendorDevice spelling (lower-case hex, no class). */
  vendorDevice: string;
  iommuGroup?: { number: number; members: PciAddress[] };
  numaNode?: number;
  /** SR-IOV: the VFs of a physical function, or the PF a VF belongs to. */
  virtualFunctions?: PciAddress[];
  physicalFunction?: PciAddress;
}

export function formatPciAddress(a: PciAddress): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${h(a.function, 1)}`;
}

export function parsePciAddressText(text: string): PciAddress | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text);
  if (!m) return undefined;
  return { domain: parseInt(m[1], 16), bus: parseInt(m[2], 16), slot: parseInt(m[3], 16), function: parseInt(m[4], 16) };
}

function addressOf(node: XmlNode): PciAddress {
  return { domain: intAttr(node, "domain") ?? 0, bus: intAttr(node, "bus") ?? 0, slot: intAttr(node, "slot") ?? 0, function: intAttr(node, "function") ?? 0 };
}

function idAndName(node: XmlNode | undefined): { id: number; name?: string } {
  const name = node?.text;
  return { id: intAttr(node, "id") ?? 0, ...(name ? { name } : {}) };
}

/** Reads `virNodeDeviceGetXMLDesc` output; undefined for devices that are not PCI functions. */
export function parsePciNodeDeviceXml(xml: string): PciNodeDevice | undefined {
  const device = parseXml(xml, "device");
  const pci = device.all("capability").find((c) => c.attr("type") === "pci");
  if (!pci) return undefined;
  const address = {
    domain: intText(pci.child("domain")) ?? 0,
    bus: intText(pci.child("bus")) ?? 0,
    slot: intText(pci.child("slot")) ?? 0,
    function: intText(pci.child("function")) ?? 0,
  };
  const vendor = idAndName(pci.child("vendor"));
  const product = idAndName(pci.child("product"));
  const classText = pci.child("class")?.text;
  const group = pci.child("iommuGroup");
  const groupNumber = intAttr(group, "number");
  const nested = (type: string) => pci.all("capability").find((c) => c.attr("type") === type);
  const vfs = nested("virt_functions")?.all("address").map(addressOf);
  const pf = nested("phys_function")?.child("address");
  const numaNode = intAttr(pci.child("numa"), "node");
  const driver = device.at("driver", "name")?.text;
  const parent = device.child("parent")?.text;
  const hex4 = (n: number) => n.toString(16).padStart(4, "0");
  return {
    name: device.child("name")?.text ?? "",
    ...(parent ? { parent } : {}),
    ...(driver ? { driver } : {}),
    address,
    addressText: formatPciAddress(address),
    vendor,
    product,
    ...(classText !== undefined && classText !== "" ? { classCode: Number(classText) } : {}),
    vendorDevice: `${hex4(vendor.id)}:${hex4(product.id)}`,
    ...(groupNumber !== undefined ? { iommuGroup: { number: groupNumber, members: group?.all("address").map(addressOf) ?? [] } } : {}),
    ...(numaNode !== undefined && numaNode >= 0 ? { numaNode } : {}),
    ...(vfs && vfs.length > 0 ? { virtualFunctions: vfs } : {}),
    ...(pf ? { physicalFunction: addressOf(pf) } : {}),
  };
}
