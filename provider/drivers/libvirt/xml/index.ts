/**
 * libvirt XML translation, both ways, for domains, networks, storage pools, volumes and PCI node
 * devices. Builders take normalised model specs plus what only apply time knows (resolved paths,
 * addresses, network names); parsers accept any libvirt document, ours or not, ignoring what they
 * do not know. Decisions that shape the XML (each explained where it is made):
 *  - disk slot ↔ target dev is a bijection (slots.ts); NIC and hostdev slots travel in `ua-` aliases;
 *  - libvirt's topology multiplies to the maximum vCPU count: hot-add headroom becomes cores (domain-cpu.ts);
 *  - with NUMA the memory ceiling is `<maxMemory>` DIMM hotplug, without it the balloon's `<memory>`;
 *  - libvirt 9.0 has no NVMe disk bus, so NVMe disks are refused (domain-disks.ts);
 *  - ownership lives in `<metadata>` under our namespace URI (domains, networks; pools and
 *    volumes have no metadata element in libvirt).
 */
export * from "./domain-context";
export { buildDomainElement, buildDomainXml } from "./domain-build";
export { LibvirtXmlError } from "./errors";
export { XmlParseError } from "./dom";
export { DOMAIN_METADATA_NS, NETWORK_METADATA_NS, type Ownership, type ParsedOwnership } from "./metadata";
export { slotToTargetDev, targetDevToSlot } from "./slots";
export { parseDomainXml, machineFamily } from "./domain-parse";
export type * from "./domain-parsed";
export { buildNetworkXml, parseNetworkXml, defaultDhcpRange, type NetworkBuildContext, type ParsedNetwork } from "./network";
export { bridgeNameFor } from "./bridge-name";
export { buildStoragePoolXml, parseStoragePoolXml, POOL_KINDS_WITH_XML, type PoolBuildContext, type ParsedStoragePool } from "./storage-pool";
export { buildVolumeXml, parseVolumeXml, type VolumeBuildContext, type ParsedVolume } from "./storage-volume";
export { parsePciNodeDeviceXml, formatPciAddress, parsePciAddressText, type PciNodeDevice } from "./nodedev";
