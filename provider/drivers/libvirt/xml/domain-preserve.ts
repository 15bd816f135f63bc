import type { XmlNode } from "./dom";
import { el, type XmlElement } from "./element";

/**
 * The parts of a domain the model does not manage, kept so that a re-define (every update writes
 * the whole definition from the builder) carries them through untouched instead of dropping them.
 * Taken from the host's current definition at each update, never from Pulumi state.
 */
export interface PreservedParts {
  /** Device elements NovaCron does not manage, in document order. */
  devices: XmlNode[];
  /** Top-level elements the builder never writes (title, description, pm, sysinfo, seclabel …). */
  top: XmlNode[];
  /** Top-level settings the builder writes defaults for (features, clock, on_*), as the host has them. */
  settings: XmlNode[];
  /** `<os>` children beyond what the model has: boot device order, boot menu, SMBIOS mode … */
  os: XmlNode[];
  /** `<cpu>` children beyond mode/model/topology/NUMA: required or disabled CPU features, cache … */
  cpu: XmlNode[];
  /** Metadata of other tools (libosinfo from virt-install …). */
  metadata: XmlNode[];
  /** One line per unmanaged device worth telling the user about (not libvirt's implicit ones). */
  summary: string[];
}

export function emptyPreserved(): PreservedParts {
  return { devices: [], top: [], settings: [], os: [], cpu: [], metadata: [], summary: [] };
}

/** What the builder itself writes at the top level; everything else is preserved as found. */
const BUILT_TOP = new Set([
  "name", "uuid", "metadata", "memory", "currentMemory", "maxMemory", "memoryBacking", "vcpu", "iothreads",
  "cputune", "numatune", "os", "cpu", "devices", "features", "clock", "on_poweroff", "on_reboot", "on_crash",
]);
/** Written by the builder as defaults, but a host's own choice wins when it has one. */
const SETTINGS = new Set(["features", "clock", "on_poweroff", "on_reboot", "on_crash"]);
const BUILT_OS = new Set(["type", "loader", "nvram", "kernel", "initrd", "cmdline", "firmware"]);
const BUILT_CPU = new Set(["model", "topology", "numa"]);

/** Splits the non-device parts of a domain into what the builder writes and what is preserved. */
export function preserveTopLevel(domain: XmlNode, ownNamespace: string, into: PreservedParts): void {
  for (const child of domain.children) {
    if (SETTINGS.has(child.name)) into.settings.push(child);
    else if (!BUILT_TOP.has(child.name)) into.top.push(child);
  }
  for (const child of domain.child("os")?.children ?? []) if (!BUILT_OS.has(child.name)) into.os.push(child);
  for (const child of domain.child("cpu")?.children ?? []) if (!BUILT_CPU.has(child.name)) into.cpu.push(child);
  for (const child of domain.child("metadata")?.children ?? []) if (child.namespaceUri !== ownNamespace) into.metadata.push(child);
}

/** Devices libvirt adds by itself to any domain: carried through, but not news to the user. */
function isImplicit(node: XmlNode): boolean {
  if (["controller", "video", "audio", "serial", "console", "memballoon"].includes(node.name)) return true;
  return node.name === "input" && (node.attr("bus") ?? "ps2") === "ps2";
}

/** A device the model does not manage: kept, and reported unless libvirt adds it on its own. */
export function preserveDevice(node: XmlNode, into: PreservedParts, why?: string): void {
  into.devices.push(node);
  if (!isImplicit(node)) into.summary.push(`${describeDevice(node)}${why ? `: ${why}` : ""}`);
}

/** A short, stable line naming a device: `disk cdrom hdc (ide, /srv/iso/x.iso)`, `interface vhostuser`. */
export function describeDevice(node: XmlNode): string {
  const parts: string[] = [node.name];
  const kind = node.attr("device") ?? node.attr("type") ?? node.attr("model");
  if (kind !== undefined) parts.push(kind);
  const target = node.child("target");
  if (node.name === "disk" && target?.attr("dev") !== undefined) parts.push(target.attr("dev") as string);
  const details: string[] = [];
  if (target?.attr("bus") !== undefined) details.push(target.attr("bus") as string);
  const source = node.child("source");
  const where = source?.attr("file") ?? source?.attr("dev") ?? source?.attr("network") ?? source?.attr("bridge") ?? source?.attr("path") ?? source?.attr("name");
  if (where !== undefined) details.push(where);
  const mac = node.child("mac")?.attr("address");
  if (mac !== undefined) details.push(mac.toLowerCase());
  return details.length > 0 ? `${parts.join(" ")} (${details.join(", ")})` : parts.join(" ");
}

/**
 * A parsed node back into a builder element. PCI addresses are left out: the builder rewrites
 * the PCI controllers, and libvirt places an address-less device on a free slot itself.
 */
export function toElement(node: XmlNode): XmlElement {
  const children = node.children
    .filter((c) => !(c.name === "address" && c.attr("type") === "pci"))
    .map(toElement);
  if (children.length === 0 && node.text !== "") return el(node.name, { ...node.attrs }, node.rawText);
  return el(node.name, { ...node.attrs }, ...children);
}
