import type { HostCapabilities } from "../../core/driver";
import { LIBVIRT_CAPABILITIES } from "./capabilities";
import type { LibvirtSession } from "./session";
import { parseXml, type XmlNode } from "./xml/dom";

/** virConnectListAllNodeDevices flag selecting PCI devices. */
const LIST_PCI_DEVICES = 2;

/**
 * What a libvirt host really has: NUMA cells with their CPUs, memory and hugepage pools, and
 * PCI devices with IOMMU groups (what passthrough needs), from capabilities + node devices.
 */
export async function libvirtHostCapabilities(session: LibvirtSession): Promise<HostCapabilities> {
  const client = await session.get();
  const [{ capabilities }, info, { lib_ver }] = await Promise.all([
    client.call("connectGetCapabilities"),
    client.call("nodeGetInfo"),
    client.call("connectGetLibVersion"),
  ]);
  const caps = parseXml(capabilities, "capabilities");
  const numaNodes = parseCells(caps);
  const hugepages = new Map<number, { sizeKiB: number; total: number; free: number }>();
  for (const cell of caps.at("host", "topology", "cells")?.all("cell") ?? []) {
    for (const pages of cell.all("pages")) {
      const sizeKiB = Number(pages.attr("size"));
      if (sizeKiB <= 4) continue;
      const entry = hugepages.get(sizeKiB) ?? { sizeKiB, total: 0, free: 0 };
      entry.total += Number(pages.text || 0);
      hugepages.set(sizeKiB, entry);
    }
  }
  const devices = await listPciDevices(session);
  const version = Number(lib_ver);
  return {
    host: session.host,
    driver: "libvirt",
    hypervisor: caps.at("guest", "arch")?.all("domain").map((d) => d.attr("type")).join(",") ?? "unknown",
    version: `${Math.floor(version / 1e6)}.${Math.floor(version / 1e3) % 1000}.${version % 1000}`,
    cpus: info.cpus,
    memoryMiB: Math.floor(Number(info.memory) / 1024),
    numaNodes,
    hugepages: [...hugepages.values()],
    devices,
    capabilities: LIBVIRT_CAPABILITIES,
  };
}

function parseCells(caps: XmlNode): HostCapabilities["numaNodes"] {
  return (caps.at("host", "topology", "cells")?.all("cell") ?? []).map((cell) => ({
    id: Number(cell.attr("id")),
    cpus: (cell.child("cpus")?.all("cpu") ?? []).map((c) => Number(c.attr("id"))),
    memoryMiB: Math.floor(Number(cell.child("memory")?.text ?? 0) / 1024),
  }));
}

export interface PciDevice {
  name: string;
  address: string;
  vendor: string;
  product: string;
  class?: string;
  iommuGroup?: number;
  numaNode?: number;
  driver?: string;
  vendorName?: string;
  productName?: string;
}

/** PCI node devices with the facts passthrough needs. */
export async function listPciDevices(session: LibvirtSession): Promise<PciDevice[]> {
  const client = await session.get();
  const { devices } = await client.call("connectListAllNodeDevices", { need_results: 1, flags: LIST_PCI_DEVICES });
  const xmls = await Promise.all(devices.map((d) => client.call("nodeDeviceGetXmlDesc", { name: d.name, flags: 0 }).then((r) => r.xml, () => undefined)));
  return xmls.flatMap((xml) => (xml ? [parsePciDevice(xml)].filter((d): d is PciDevice => d !== undefined) : []));
}

export function parsePciDevice(xml: string): PciDevice | undefined {
  const dev = parseXml(xml, "device");
  const pci = dev.all("capability").find((c) => c.attr("type") === "pci");
  if (!pci) return undefined;
  const hex = (name: string, width: number) => Number(pci.child(name)?.text ?? 0).toString(16).padStart(width, "0");
  const vendor = pci.child("vendor");
  const product = pci.child("product");
  const group = pci.child("iommuGroup")?.attr("number");
  const numa = pci.child("numa")?.attr("node");
  return {
    name: dev.child("name")?.text ?? "",
    address: `${hex("domain", 4)}:${hex("bus", 2)}:${hex("slot", 2)}.${Number(pci.child("function")?.text ?? 0)}`,
    vendor: (vendor?.attr("id") ?? "").replace(/^0x/, "").toLowerCase(),
    product: (product?.attr("id") ?? "").replace(/^0x/, "").toLowerCase(),
    class: pci.child("class")?.text.replace(/^0x/, "").toLowerCase(),
    iommuGroup: group === undefined ? undefined : Number(group),
    numaNode: numa === undefined ? undefined : Number(numa),
    driver: dev.at("driver", "name")?.text,
    vendorName: vendor?.text || undefined,
    productName: product?.text || undefined,
  };
}
