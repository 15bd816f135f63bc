import { z } from "zod";

/** Name of a host entry in the stack config `novacron:hosts` (never a URL: credentials live there). */
export const HostRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be the name of a host in the stack config novacron:hosts (letters, digits, _ . -)")
  .describe("Name of the host entry in the stack config `novacron:hosts` that this resource lives on.");

/** Names that every hypervisor here accepts as an object name. */
export const ObjectName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be 1-63 characters of letters, digits, _ . - starting with a letter or digit");

/**
 * Consent to manage an object NovaCron did not make. Without it, an existing object of the
 * resource's name is refused: only NovaCron's own ownership mark makes an object NovaCron's.
 */
export const Adopt = z
  .boolean()
  .default(false)
  .describe("Manage an existing object of this name that NovaCron did not make, instead of failing; it is left in place on destroy unless deleteOnDestroy is set.");

/** Only read for adopted objects: what NovaCron made itself always goes on destroy. */
export const DeleteOnDestroy = z
  .boolean()
  .default(false)
  .describe("With adopt: true, delete the adopted object on destroy instead of leaving it in place. Objects NovaCron made are always deleted on destroy.");

export const Labels = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/, "label keys are 1-63 characters of letters, digits, _ . / -"),
    z.string().max(256),
  )
  .default({})
  .describe("Free-form key/value labels, stored with the object on the hypervisor (libvirt metadata, vSphere annotations).");

/**
 * A host CPU set in libvirt's cpuset syntax: `3`, `0-3`, `0-3,^2,8`. Kept as text because that is
 * how users read it in `lscpu`/`virsh capabilities`; `parseCpuSet` gives the numbers.
 */
export const CpuSet = z
  .string()
  .regex(/^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/, "must be a CPU set such as \"2\", \"0-3\" or \"0-3,^2,8\"");

export function parseCpuSet(text: string): number[] {
  const included = new Set<number>();
  const excluded = new Set<number>();
  for (const part of text.split(",")) {
    const negate = part.startsWith("^");
    const [lo, hi] = part.replace("^", "").split("-").map(Number);
    for (let n = lo; n <= (hi ?? lo); n++) (negate ? excluded : included).add(n);
  }
  return [...included].filter((n) => !excluded.has(n)).sort((a, b) => a - b);
}

export const MacAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, "must be a MAC address such as \"52:54:00:12:34:56\"")
  .transform((mac) => mac.toLowerCase());

export const Ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, "must be an IPv4 address such as \"10.0.0.5\"");

export function ipv4ToNumber(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export const Cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/([0-9]|[12]\d|3[0-2])$/, "must be an IPv4 CIDR such as \"10.77.0.0/24\"");

export interface ParsedCidr {
  network: number;
  prefix: number;
  /** First and last usable host addresses. */
  first: number;
  last: number;
}

export function parseCidr(cidr: string): ParsedCidr {
  const [ip, bits] = cidr.split("/");
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipv4ToNumber(ip) / size) * size;
  return { network, prefix, first: prefix >= 31 ? network : network + 1, last: prefix >= 31 ? network + size - 1 : network + size - 2 };
}
