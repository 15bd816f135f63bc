import { z } from "zod";

/** Name of a host entry in the stack config `novacron:hosts` (never a URL: credentials live there). */
export const HostRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be the name of a host in the stack config novacron:hosts (letters, digits, _ . -)")
  .describe("Name of the host entry in the stack config `novacron:hosts` that this resource lives on.");

/** Names that every hypervisor here accepts as an object name. */
export const ObjectName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be 1-63 characters of letters, digits, _ . - starting with a letter or digit");

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
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/, "label keys are 1-63 characters of letters, digits, _ . / -"), z.string().max(256))
  .default({})
  .describe("Free-form key/value labels, stored with the object on the hypervisor (libvirt metadata, vSphere annotations).");

/**
 * A host CPU set in libvirt's cpuset syntax: `3`, `0-3`, `0-3,^2,8`. Kept as text because that is
 * how users read it in `lscpu`/`virsh capabilities`; `parseCpuSet` gives the numbers.
 */
export const CpuSet = z
  .string()
  .max(1024)
  .regex(/^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/, 'must be a CPU set such as "2", "0-3" or "0-3,^2,8"')
  // Checked on the text, before anything is expanded: "0-99999999" must not build a set first.
  .superRefine((text, ctx) => {
    for (const part of text.split(",")) {
      const [lo, hi] = part.replace("^", "").split("-").map(Number);
      if (lo > MAX_CPU_ID || (hi ?? lo) > MAX_CPU_ID) {
        ctx.addIssue({ code: "custom", message: `got ${JSON.stringify(text)}; host CPU numbers go up to ${MAX_CPU_ID}` });
        return;
      }
      if (hi !== undefined && hi < lo) {
        ctx.addIssue({ code: "custom", message: `got ${JSON.stringify(text)}; the range ${part} runs backwards` });
        return;
      }
    }
  });

/** Highest host CPU number accepted in a CPU set (libvirt's own cpuset limit is far higher; no host has this many). */
export const MAX_CPU_ID = 4095;

export function parseCpuSet(text: string): number[] {
  // Never expand a range beyond what the schema accepts, whoever calls this.
  if (!CpuSet.safeParse(text).success) throw new Error(`not a CPU set within 0-${MAX_CPU_ID}: ${JSON.stringify(text.slice(0, 40))}`);
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
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address such as "52:54:00:12:34:56"')
  .transform((mac) => mac.toLowerCase());

export const Ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be an IPv4 address such as "10.0.0.5"');

export function ipv4ToNumber(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** A subnet to serve: octets 0-255, a prefix of 8-30 (a /0 is every address, a /31 leaves none to hand out). */
export const Cidr = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([89]|[12]\d|30)$/,
    'must be an IPv4 CIDR with octets 0-255 and a prefix from /8 to /30, such as "10.77.0.0/24"',
  );

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

/**
 * Rules every input string and key of every kind obeys, checked on the raw input at check()
 * before the schema: text reaches libvirt XML, vSphere SOAP, file paths and terminals, and
 * some characters break each of them.
 *  - no control characters (NUL, ESC, C1), noncharacters (U+FFFE) or lone surrogates: XML
 *    cannot hold them and terminals interpret them; line breaks only in the multi-line fields;
 *  - a length cap per field, so no input is unbounded;
 *  - no `..` path segment in anything that names a file, a volume or a datastore path;
 *  - no `[` `]` in names spliced into vSphere datastore paths (`[ds] folder/file`);
 *  - keys never named like Object.prototype members (`__proto__` is silently dropped by
 *    JavaScript objects, `constructor` resolves to a function);
 *  - numbers finite, and sizes not so small they round to nothing.
 */
export interface TextProblem {
  path: string;
  reason: string;
}

/** Fields where line breaks are content (CR included: cloud-init files may use CRLF). */
const MULTILINE: Record<string, string> = { "cloudInit.userData": "\t\n\r", "cloudInit.metaData": "\t\n\r", "cloudInit.networkConfig": "\t\n\r", description: "\t\n" };
/** Caps by dotted path pattern (`*` = any key); everything else gets DEFAULT_MAX. */
const LENGTH_CAPS: [RegExp, number][] = [
  [/^cloudInit\.(userData|metaData|networkConfig)$/, 1024 * 1024],
  [/^kernelBoot\.cmdline$/, 4096],
  [/^(machine|cpu\.model)$/, 64],
  [/^(console\.listen|nics\.[^.]+\.(network|bridge|sriovPool)|bridge|physicalFunction|network)$/, 255],
  [/^(pool|cloneFrom|backingStore|disks\.[^.]+\.pool|vm|device|passthrough\.[^.]+\.device|source)$/, 1024],
];
const DEFAULT_MAX = 4096;
/** Fields naming files, volumes or datastore paths: a `..` segment would leave the intended place. */
const PATH_FIELDS = /^(path|uploadFrom|source|pool|cloneFrom|backingStore|kernelBoot\.(kernel|initrd)|disks\.[^.]+\.(volume|pool))$/;
/** Names NovaCron itself splices into `[datastore] folder/file` paths. */
const NO_BRACKETS = /^(pool|cloneFrom|backingStore|name|disks\.[^.]+\.pool)$/;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export function textProblems(input: unknown): TextProblem[] {
  const problems: TextProblem[] = [];
  walk(input, "", problems);
  return problems;
}

// check() runs on every preview for every resource: the walk builds no arrays, and strings
// are scanned character by character only when a quick test finds something suspect.
function walk(value: unknown, dotted: string, problems: TextProblem[]): void {
  if (typeof value === "string") {
    const problem = stringProblem(dotted, value);
    if (problem) problems.push({ path: dotted, reason: problem });
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) problems.push({ path: dotted, reason: `got ${String(value)}; expected a finite number` });
    else if (value > 0 && value < 1 / 1024 && /(^|\.)sizeGiB$/.test(dotted)) {
      problems.push({ path: dotted, reason: `got ${String(value)}; must be at least 1 MiB (0.0009765625 GiB)` });
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], dotted === "" ? String(i) : `${dotted}.${i}`, problems);
  } else if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) {
      const at = dotted === "" ? key : `${dotted}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) {
        problems.push({ path: at, reason: `the key ${JSON.stringify(key)} is not accepted (it names a JavaScript object internal)` });
        continue;
      }
      const keyProblem = SUSPECT.test(key) ? badCharacter(key, "") : undefined;
      if (keyProblem) problems.push({ path: dotted || key, reason: `a key ${keyProblem}` });
      else walk((value as Record<string, unknown>)[key], at, problems);
    }
  }
}

/** Any character badCharacter might refuse: controls, surrogates (pairs are checked after), noncharacters. */
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]/;

function stringProblem(path: string, text: string): string | undefined {
  const generic = path.startsWith("labels.") ? "labels.*" : path;
  const bad = SUSPECT.test(text) ? badCharacter(text, MULTILINE[generic] ?? "") : undefined;
  if (bad) return bad;
  const cap = LENGTH_CAPS.find(([pattern]) => pattern.test(generic))?.[1] ?? DEFAULT_MAX;
  if (text.length > cap) return `is ${text.length} characters long; must be at most ${cap}`;
  if (PATH_FIELDS.test(generic) && /(^|[/\\\s\]])\.\.([/\\]|$)/.test(text))
    return "must not contain a `..` path segment (it would leave the pool, datastore or directory it names)";
  if (NO_BRACKETS.test(generic) && /[[\]]/.test(text)) return "must not contain `[` or `]` (they delimit datastore names in vSphere paths)";
  return undefined;
}

/** Describes the first character XML, SOAP or a terminal cannot take, or undefined. */
function badCharacter(text: string, allowed: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const astral = text.codePointAt(i)!;
      if ((astral & 0xfffe) === 0xfffe) return `contains the noncharacter U+${astral.toString(16).toUpperCase()} at position ${i}`;
      i++;
      continue;
    }
    const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    if ((code < 0x20 || (code >= 0x7f && code <= 0x9f)) && !allowed.includes(text[i])) {
      const which = code === 0 ? "NUL" : code === 0x1b ? "ESC" : code === 0x0a ? "a line break" : code === 0x0d ? "a carriage return" : "a control character";
      return `contains ${which} (${name}) at position ${i}; only printable text is accepted here`;
    }
    if (code >= 0xd800 && code <= 0xdfff) return `contains a lone surrogate (${name}) at position ${i}; not valid Unicode text`;
    if (code === 0xfffe || code === 0xffff || (code >= 0xfdd0 && code <= 0xfdef)) return `contains the noncharacter ${name} at position ${i}`;
  }
  return undefined;
}
