import type { XmlNode } from "./dom";

/** Libvirt's scaled-integer units: single letters and *iB are powers of 1024, *B are powers of 1000. */
const FACTORS: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  pb: 1e15,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  eb: 1e18,
  e: 1024 ** 6,
  eib: 1024 ** 6,
};

/** Bytes of a scaled value; `defaultUnit` is the element's documented default (KiB for memory, bytes for storage). */
export function scaledBytes(value: string, unit: string | undefined, defaultUnit: string): number | undefined {
  const factor = FACTORS[(unit ?? defaultUnit).toLowerCase()];
  const n = Number(value.trim());
  if (factor === undefined || value.trim() === "" || !Number.isFinite(n)) return undefined;
  return n * factor;
}

/** MiB of a memory element (`<memory unit='KiB'>`), rounded down as libvirt itself rounds to KiB. */
export function memoryMiB(node: XmlNode | undefined): number | undefined {
  if (!node) return undefined;
  const bytes = scaledBytes(node.text, node.attr("unit"), "KiB");
  return bytes === undefined ? undefined : Math.floor(bytes / 1024 ** 2);
}

/** MiB of a memory attribute pair such as a NUMA cell's `memory` + `unit`. */
export function memoryAttrMiB(value: string | undefined, unit: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const bytes = scaledBytes(value, unit, "KiB");
  return bytes === undefined ? undefined : Math.floor(bytes / 1024 ** 2);
}

export function storageBytes(node: XmlNode | undefined): number | undefined {
  if (!node) return undefined;
  return scaledBytes(node.text, node.attr("unit"), "bytes");
}

export function intAttr(node: XmlNode | undefined, name: string): number | undefined {
  const value = node?.attr(name);
  if (value === undefined) return undefined;
  // Libvirt writes PCI fields in hex ("0x1f") and counts in decimal: Number() reads both.
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}

export function intText(node: XmlNode | undefined): number | undefined {
  if (!node) return undefined;
  const n = Number(node.text);
  return node.text !== "" && Number.isInteger(n) ? n : undefined;
}

/** Libvirt spells booleans yes/no or on/off depending on the element. */
export function flag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "yes" || value === "on") return true;
  if (value === "no" || value === "off") return false;
  return undefined;
}
