export * from "./domain-context";
export { buildDomainXml } from "./domain-build";
export { DomainXmlError } from "./errors";
export { XmlParseError } from "./dom";
export { DOMAIN_METADATA_NS, NETWORK_METADATA_NS, type Ownership, type ParsedOwnership } from "./metadata";
export { slotToTargetDev, targetDevToSlot } from "./slots";
export { parseDomainXml, machineFamily } from "./domain-parse";
export type * from "./domain-parsed";
