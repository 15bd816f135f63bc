import { z } from "zod";
import { failureFromIssue, InputError } from "./errors";

export const DriverKind = z.enum(["libvirt", "vsphere", "proxmox", "hyperv", "xcpng"]);
export type DriverKind = z.infer<typeof DriverKind>;

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
  z.strictObject({
    driver: z.literal("vsphere"),
    url: z.string().url(),
    username: z.string(),
    password: z.string(),
    datacenter: z.string(),
    cluster: z.string().optional(),
    host: z.string().min(1).optional().describe("ESXi host VMs are placed on (name inside the cluster, or an inventory path); two entries differing only here vMotion between them"),
    datastore: z.string().min(1).optional().describe("Datastore for VM files when no disk names a pool; entries differing here move storage too"),
    resourcePool: z.string().min(1).optional().describe("Resource pool path; default: the cluster's (or standalone host's) root pool"),
    folder: z.string().optional().describe("VM folder path inside the datacenter; default: its root VM folder"),
    insecure: z.boolean().default(false),
    caFile: z.string().optional().describe("PEM file of the CA that signed vCenter's certificate, read when the driver connects"),
  }),
  z
    .strictObject({
      driver: z.literal("proxmox"),
      url: z.string().url().describe("API endpoint of a cluster node, e.g. https://pve1.example:8006"),
      node: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, "must be a Proxmox VE node name such as pve1").describe("Node the resources live on"),
      tokenId: z.string().regex(/^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$/, "must be an API token id user@realm!tokenname, e.g. novacron@pve!ci").optional(),
      tokenSecret: z.string().min(1).optional().describe("The token's secret (set the entry with `pulumi config set --secret`)"),
      username: z.string().regex(/^[^\s@]+@[^\s@]+$/, "must be user@realm, e.g. root@pam").optional().describe("Ticket login, when no API token is given"),
      password: z.string().min(1).optional(),
      fingerprint: z.string().regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, "must be a SHA-256 certificate fingerprint (64 hex digits, colons optional)").optional()
        .describe("Trust exactly the certificate with this SHA-256 fingerprint (PVE's self-signed node certificate)"),
      caFile: z.string().optional().describe("PEM file of the CA that signed the node's certificate, e.g. a copy of /etc/pve/pve-root-ca.pem"),
      insecure: z.boolean().default(false),
    })
    .superRefine((entry, ctx) => {
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
  z.strictObject({ driver: z.literal("xcpng"), url: z.string().url(), username: z.string(), password: z.string(), insecure: z.boolean().default(false) }),
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
  const parsed = HostsMap.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(source, parsed.error.issues.map((i) => failureFromIssue(i, raw, () => true)));
  }
  return parsed.data;
}
