import { z } from "zod";
import { failureFromIssue, InputError } from "./errors";

export const DriverKind = z.enum(["libvirt", "vsphere", "proxmox", "hyperv", "xcpng"]);
export type DriverKind = z.infer<typeof DriverKind>;

/** The loudly named consent to send credentials over plain HTTP (a lab simulator, never production). */
const PlainHttpOptIn = z.boolean().optional().describe("Accept an http:// url: the password then crosses the network in clear text. For lab simulators only");

/** Entries that log in with a password or token must use https unless the user opts in by name. */
function refusePlainHttp(entry: { url: string; insecurePlainHttp?: boolean }, ctx: z.RefinementCtx): void {
  if (/^http:/i.test(entry.url) && entry.insecurePlainHttp !== true) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: "is plain http://, so the password would cross the network in clear text; use https://, or set insecurePlainHttp: true for a lab simulator",
    });
  }
  if (!/^https?:/i.test(entry.url)) ctx.addIssue({ code: "custom", path: ["url"], message: "must be an https:// URL" });
}

/**
 * One entry of the stack config `novacron:hosts`. Credentials live only here (stack config,
 * encrypted with `--secret`), so no resource input ever carries one.
 */
export const HostConfig = z.discriminatedUnion("driver", [
  z.strictObject({
    driver: z.literal("libvirt"),
    uri: z.string().regex(/^[a-z]+(\+[a-z]+)?:\/\//, "must be a libvirt URI such as qemu:///system or qemu+ssh://root@kvm2/system"),
    migrationUri: z.string().optional().describe("Address other hosts use to reach this one for migration data, e.g. tcp://10.0.0.2"),
    peerUri: z
      .string()
      .regex(/^[a-z]+(\+[a-z]+)?:\/\/[^/]/, "must be a libvirt URI with a host part, such as qemu+tcp://10.0.0.1/system")
      .optional()
      .describe("libvirt URI other hosts' libvirtd use to reach this one in a peer-to-peer migration; defaults to uri, which must then name a host"),
  }),
  z
    .strictObject({
      driver: z.literal("vsphere"),
      url: z.string().url(),
      username: z.string(),
      password: z.string(),
      datacenter: z.string(),
      cluster: z.string().optional(),
      host: z
        .string()
        .min(1)
        .optional()
        .describe("ESXi host VMs are placed on (name inside the cluster, or an inventory path); two entries differing only here vMotion between them"),
      datastore: z.string().min(1).optional().describe("Datastore for VM files when no disk names a pool; entries differing here move storage too"),
      resourcePool: z.string().min(1).optional().describe("Resource pool path; default: the cluster's (or standalone host's) root pool"),
      folder: z.string().optional().describe("VM folder path inside the datacenter; default: its root VM folder"),
      insecure: z.boolean().default(false),
      caFile: z.string().optional().describe("PEM file of the CA that signed vCenter's certificate, read when the driver connects"),
      insecurePlainHttp: PlainHttpOptIn,
    })
    .superRefine(refusePlainHttp),
  z
    .strictObject({
      driver: z.literal("proxmox"),
      url: z.string().url().describe("API endpoint of a cluster node, e.g. https://pve1.example:8006"),
      node: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, "must be a Proxmox VE node name such as pve1")
        .describe("Node the resources live on"),
      tokenId: z
        .string()
        .regex(/^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$/, "must be an API token id user@realm!tokenname, e.g. novacron@pve!ci")
        .optional(),
      tokenSecret: z.string().min(1).optional().describe("The token's secret (set the entry with `pulumi config set --secret`)"),
      username: z
        .string()
        .regex(/^[^\s@]+@[^\s@]+$/, "must be user@realm, e.g. root@pam")
        .optional()
        .describe("Ticket login, when no API token is given"),
      password: z.string().min(1).optional(),
      fingerprint: z
        .string()
        .regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, "must be a SHA-256 certificate fingerprint (64 hex digits, colons optional)")
        .optional()
        .describe("Trust exactly the certificate with this SHA-256 fingerprint (PVE's self-signed node certificate)"),
      caFile: z.string().optional().describe("PEM file of the CA that signed the node's certificate, e.g. a copy of /etc/pve/pve-root-ca.pem"),
      insecure: z.boolean().default(false),
      insecurePlainHttp: PlainHttpOptIn,
    })
    .superRefine((entry, ctx) => {
      refusePlainHttp(entry, ctx);
      const token = entry.tokenId !== undefined || entry.tokenSecret !== undefined;
      const login = entry.username !== undefined || entry.password !== undefined;
      if (token === login) {
        ctx.addIssue({ code: "custom", path: ["tokenId"], message: "give either tokenId and tokenSecret (an API token) or username and password (a ticket login)" });
      } else if (token && (entry.tokenId === undefined || entry.tokenSecret === undefined)) {
        ctx.addIssue({ code: "custom", path: [entry.tokenId === undefined ? "tokenId" : "tokenSecret"], message: "an API token needs both tokenId and tokenSecret" });
      } else if (login && (entry.username === undefined || entry.password === undefined)) {
        ctx.addIssue({ code: "custom", path: [entry.username === undefined ? "username" : "password"], message: "a ticket login needs both username and password" });
      }
    }),
  z.strictObject({ driver: z.literal("hyperv"), host: z.string(), username: z.string(), keyfile: z.string().optional(), knownHosts: z.string().optional() }),
  z
    .strictObject({
      driver: z.literal("xcpng"),
      url: z.string().url(),
      username: z.string(),
      password: z.string(),
      insecure: z.boolean().default(false),
      insecurePlainHttp: PlainHttpOptIn,
    })
    .superRefine(refusePlainHttp),
]);
export type HostConfig = z.output<typeof HostConfig>;
export type Hosts = Record<string, HostConfig>;
/** Built once per process, like every schema of the model. */
const HostsMap = z.record(z.string(), HostConfig);

/** Used when neither stack config nor environment names any host: the local KVM/QEMU daemon. */
export const DEFAULT_HOSTS: Hosts = { local: { driver: "libvirt", uri: "qemu:///system" } };

/**
 * Parses the hosts map from its JSON text (stack config value or NOVACRON_HOSTS). Errors name
 * the host and field but never echo a value, because these entries hold passwords.
 */
export function parseHosts(json: string | undefined, source: string): Hosts {
  if (json === undefined || json === "") return DEFAULT_HOSTS;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InputError(source, [{ property: source, reason: "is not valid JSON; expected an object of host name → { driver, ... }" }]);
  }
  // Host names are keys: one that names an Object.prototype member must never look configured.
  if (raw !== null && typeof raw === "object" && Object.hasOwn(raw, "__proto__")) {
    throw new InputError(source, [{ property: `${source}.__proto__`, reason: "is not accepted as a host name" }]);
  }
  const parsed = HostsMap.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(
      source,
      parsed.error.issues.map((i) => failureFromIssue(i, raw, () => true)),
    );
  }
  // Null prototype: `hosts["constructor"]` is undefined, not Object's constructor.
  return Object.assign(Object.create(null) as Hosts, parsed.data);
}

/** Credentials in the hosts map, for the redaction of errors and logs (core/redact.ts). */
export function hostSecrets(hosts: Hosts): string[] {
  const secrets: string[] = [];
  for (const entry of Object.values(hosts)) {
    if ("password" in entry && typeof entry.password === "string") secrets.push(entry.password);
    if ("tokenSecret" in entry && typeof entry.tokenSecret === "string") secrets.push(entry.tokenSecret);
    for (const url of [entry.driver === "libvirt" ? entry.uri : undefined, entry.driver === "libvirt" ? entry.peerUri : undefined, "url" in entry ? entry.url : undefined]) {
      const password = url ? /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^/\s@]+)@/i.exec(url)?.[1] : undefined;
      if (password) secrets.push(password, decodeURIComponentSafe(password));
    }
  }
  return secrets.filter((s) => s.length > 0);
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The entry of `name`, own keys only: a host called `constructor` or `__proto__` must be
 * "not configured", never a function inherited from Object.prototype.
 */
export function hostEntry(hosts: Hosts, name: unknown): HostConfig | undefined {
  return typeof name === "string" && Object.hasOwn(hosts, name) ? hosts[name] : undefined;
}
