import { XmlNode } from "./dom";
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
  /** `<cputune>` children beyond vCPU and emulator pinning: shares, quotas, iothread pinning … */
  cputune: XmlNode[];
  /** `<memoryBacking>` children beyond hugepages: shared access, memfd source, locked … */
  memoryBacking: XmlNode[];
  /** A `<numatune>` with no per-cell binding (interleave, a nodeset only): the builder writes none then. */
  numatune?: XmlNode;
  /** Per NUMA cell id: attributes and children beyond cpus and memory (memAccess, distances …). */
  numaCells: Record<number, { attrs: Record<string, string>; children: XmlNode[] }>;
  /** One line per unmanaged device worth telling the user about (not libvirt's implicit ones). */
  summary: string[];
}

export function emptyPreserved(): PreservedParts {
  return { devices: [], top: [], settings: [], os: [], cpu: [], metadata: [], cputune: [], memoryBacking: [], numaCells: {}, summary: [] };
}

/** What the builder itself writes at the top level; everything else is preserved as found. */
const BUILT_TOP = new Set([
  "name",
  "uuid",
  "metadata",
  "memory",
  "currentMemory",
  "maxMemory",
  "memoryBacking",
  "vcpu",
  "iothreads",
  "cputune",
  "numatune",
  "os",
  "cpu",
  "devices",
  "features",
  "clock",
  "on_poweroff",
  "on_reboot",
  "on_crash",
]);
/** Written by the builder as defaults, but a host's own choice wins when it has one. */
const SETTINGS = new Set(["features", "clock", "on_poweroff", "on_reboot", "on_crash"]);
const BUILT_OS = new Set(["type", "loader", "nvram", "kernel", "initrd", "cmdline", "firmware"]);
const BUILT_CPU = new Set(["model", "topology", "numa"]);

/** Splits the non-device parts of a domain into what the builder writes and what is preserved. */
export function preserveTopLevel(domain: XmlNode, ownNamespace: string, into: PreservedParts): void {
  for (const child of domain.children) {
    if (SETTINGS.has(child.name)) into.settings.push(child);
    else if (!BUILT_TOP.has(child.name)) into.top.push(withOwnNamespace(child, domain));
  }
  for (const child of domain.child("os")?.children ?? []) if (!BUILT_OS.has(child.name)) into.os.push(child);
  for (const child of domain.child("cpu")?.children ?? []) if (!BUILT_CPU.has(child.name)) into.cpu.push(child);
  for (const child of domain.child("metadata")?.children ?? []) if (child.namespaceUri !== ownNamespace) into.metadata.push(child);
  for (const child of domain.child("cputune")?.children ?? []) if (child.name !== "vcpupin" && child.name !== "emulatorpin") into.cputune.push(child);
  for (const child of domain.child("memoryBacking")?.children ?? []) if (child.name !== "hugepages") into.memoryBacking.push(child);
  const numatune = domain.child("numatune");
  if (numatune && numatune.all("memnode").length === 0) into.numatune = numatune;
  for (const [i, cell] of (domain.child("cpu")?.child("numa")?.all("cell") ?? []).entries()) {
    const attrs = Object.fromEntries(Object.entries(cell.attrs).filter(([k]) => !["id", "cpus", "memory", "unit"].includes(k)));
    if (Object.keys(attrs).length > 0 || cell.children.length > 0) into.numaCells[Number(cell.attr("id") ?? i)] = { attrs, children: [...cell.children] };
  }
}

/**
 * An element in a namespace declared on the root (`<qemu:commandline>` with xmlns:qemu on
 * <domain>) carries the declaration itself, since the builder's root declares none.
 */
function withOwnNamespace(node: XmlNode, root: XmlNode): XmlNode {
  const colon = node.name.indexOf(":");
  if (colon < 0) return node;
  const decl = `xmlns:${node.name.slice(0, colon)}`;
  if (node.attrs[decl] !== undefined || root.attrs[decl] === undefined) return node;
  return new XmlNode(node.name, { [decl]: root.attrs[decl], ...node.attrs }, node.children, node.rawText);
}

/** MiB in hot-plugged DIMMs among the preserved devices: with NUMA they make up memory beyond the cells. */
export function preservedDimmMiB(preserved: PreservedParts | undefined): number {
  let kib = 0;
  for (const node of preserved?.devices ?? []) {
    if (node.name !== "memory") continue;
    const size = node.child("target")?.child("size");
    const value = Number(size?.text ?? 0);
    const unit = (size?.attr("unit") ?? "KiB").toLowerCase();
    const factor: Record<string, number> = { kib: 1, k: 1, mib: 1024, m: 1024, gib: 1024 ** 2, g: 1024 ** 2 };
    kib += value * (factor[unit] ?? 1);
  }
  return Math.floor(kib / 1024);
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
  const bus = target?.attr("bus") ?? node.attr("bus");
  if (bus !== undefined) details.push(bus);
  const source = node.child("source");
  const where = source?.attr("file") ?? source?.attr("dev") ?? source?.attr("network") ?? source?.attr("bridge") ?? source?.attr("path") ?? source?.attr("name");
  if (where !== undefined) details.push(where);
  const mac = node.child("mac")?.attr("address");
  if (mac !== undefined) details.push(mac.toLowerCase());
  return details.length > 0 ? `${parts.join(" ")} (${details.join(", ")})` : parts.join(" ");
}

/**
 * A parsed node back into a builder element. A device's own PCI address is left out: the builder
 * rewrites the PCI controllers, and libvirt places an address-less device on a free slot itself.
 * Addresses deeper down (a host device's source address) are kept.
 */
export function toElement(node: XmlNode): XmlElement {
  const children = node.children.filter((c) => !(c.name === "address" && c.attr("type") === "pci")).map(copyElement);
  if (children.length === 0 && node.text !== "") return el(node.name, { ...node.attrs }, node.rawText);
  return el(node.name, { ...node.attrs }, ...children);
}

function copyElement(node: XmlNode): XmlElement {
  const children = node.children.map(copyElement);
  if (children.length === 0 && node.text !== "") return el(node.name, { ...node.attrs }, node.rawText);
  return el(node.name, { ...node.attrs }, ...children);
}
