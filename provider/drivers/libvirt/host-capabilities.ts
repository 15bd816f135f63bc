import type { HostCapabilities } from "../../core/driver";
import { LIBVIRT_CAPABILITIES } from "./capabilities";
import type { LibvirtSession } from "./session";
import { parseXml, type XmlNode } from "./xml/dom";
import { parsePciNodeDeviceXml } from "./xml";

/** virConnectListAllNodeDevices flag selecting PCI devices. */
const LIST_PCI_DEVICES = 2;

/**
 * What a libvirt host really has: NUMA cells with their CPUs, memory and hugepage pools, and
 * PCI devices with IOMMU groups (what passthrough needs), from capabilities + node devices.
 */
export async function libvirtHostCapabilities(session: LibvirtSession): Promise<HostCapabilities> {
  const client = await session.get();
  const [{ capabilities }, info, { lib_ver }] = await Promise.all([client.call("connectGetCapabilities"), client.call("nodeGetInfo"), client.call("connectGetLibVersion")]);
  const caps = parseXml(capabilities, "capabilities");
  const numaNodes = parseCells(caps, info);
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
    hypervisor:
      caps
        .at("guest", "arch")
        ?.all("domain")
        .map((d) => d.attr("type"))
        .join(",") ?? "unknown",
    version: `${Math.floor(version / 1e6)}.${Math.floor(version / 1e3) % 1000}.${version % 1000}`,
    cpus: info.cpus,
    memoryMiB: Math.floor(Number(info.memory) / 1024),
    numaNodes,
    hugepages: [...hugepages.values()],
    devices,
    capabilities: LIBVIRT_CAPABILITIES,
  };
}

interface NodeInfo {
  cpus: number;
  nodes: number;
  memory: number | bigint;
}

function parseCells(caps: XmlNode, info: NodeInfo): HostCapabilities["numaNodes"] {
  const cells = (caps.at("host", "topology", "cells")?.all("cell") ?? []).map((cell) => ({
    id: Number(cell.attr("id")),
    cpus: (cell.child("cpus")?.all("cpu") ?? []).map((c) => Number(c.attr("id"))),
    memoryMiB: Math.floor(Number(cell.child("memory")?.text ?? 0) / 1024),
  }));
  if (cells.length > 0) return cells;
  // Some drivers (libvirt's test driver loaded from a custom file, for one) report no topology
  // in their capabilities but do count cells and CPUs in nodeGetInfo. CPUs are then assumed to be
  // numbered densely and spread evenly, which is how those drivers number them.
  const nodes = Math.max(1, info.nodes);
  const perNode = Math.ceil(info.cpus / nodes);
  return Array.from({ length: nodes }, (_, id) => ({
    id,
    cpus: Array.from({ length: Math.max(0, Math.min(perNode, info.cpus - id * perNode)) }, (_, i) => id * perNode + i),
    memoryMiB: Math.floor(Number(info.memory) / 1024 / nodes),
  }));
}

/** The host CPU numbers and NUMA node ids a domain may be pinned or bound to. */
export interface HostTopology {
  cpus: number[];
  numaNodes: number[];
}

export async function hostTopology(session: LibvirtSession): Promise<HostTopology> {
  const client = await session.get();
  const [{ capabilities }, info] = await Promise.all([client.call("connectGetCapabilities"), client.call("nodeGetInfo")]);
  const cells = parseCells(parseXml(capabilities, "capabilities"), info);
  return {
    cpus: [...new Set(cells.flatMap((c) => c.cpus))].sort((a, b) => a - b),
    numaNodes: cells.map((c) => c.id).sort((a, b) => a - b),
  };
}

/** "0-3,8,10-11": how libvirt and lscpu print CPU sets, so messages read like the host's own tools. */
export function formatCpuSet(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    runs.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(",") || "none";
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
  const xmls = await Promise.all(
    devices.map((d) =>
      client.call("nodeDeviceGetXmlDesc", { name: d.name, flags: 0 }).then(
        (r) => r.xml,
        () => undefined,
      ),
    ),
  );
  return xmls.flatMap((xml) => (xml ? [parsePciDevice(xml)].filter((d): d is PciDevice => d !== undefined) : []));
}

/** The flat, output-friendly view of a PCI node device (the XML parser lives in xml/nodedev.ts). */
export function parsePciDevice(xml: string): PciDevice | undefined {
  const dev = parsePciNodeDeviceXml(xml);
  if (!dev) return undefined;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  return {
    name: dev.name,
    address: dev.addressText,
    vendor: hex(dev.vendor.id, 4),
    product: hex(dev.product.id, 4),
    class: dev.classCode === undefined ? undefined : hex(dev.classCode, 6),
    iommuGroup: dev.iommuGroup?.number,
    numaNode: dev.numaNode,
    driver: dev.driver,
    vendorName: dev.vendor.name,
    productName: dev.product.name,
  };
}
