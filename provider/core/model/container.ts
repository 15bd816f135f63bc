import { z } from "zod";
import { Adopt, DeleteOnDestroy, HostRef, Ipv4, Labels, MacAddress } from "./common";

/**
 * A system container (LXC): its own init and network stack on the host's kernel. Only Proxmox VE
 * manages them here; every other driver's capability table says why it has none.
 */

/** A host name as a container takes it: a DNS label or dotted name, lower case kept as given. */
const Hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a DNS name such as "web-1" or "web-1.lab.example"');

const SizeGiB = z.number().positive().max(65536);

const RootFs = z
  .strictObject({
    pool: z.string().min(1).optional().describe("Storage to allocate the root file system on (with sizeGiB)."),
    sizeGiB: SizeGiB.optional().describe("Size of a new root file system; growing is applied in place, shrinking is refused."),
    volume: z.string().min(1).optional().describe("An existing volume to use as the root file system, e.g. `local-lvm:subvol-101-disk-0`."),
  })
  .superRefine((fs, ctx) => {
    if (fs.volume !== undefined && (fs.pool !== undefined || fs.sizeGiB !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["volume"], message: "give either volume, or pool with sizeGiB, not both" });
    }
    if (fs.volume === undefined && (fs.pool === undefined || fs.sizeGiB === undefined)) {
      ctx.addIssue({ code: "custom", path: ["pool"], message: "a new root file system needs both pool and sizeGiB (or give volume)" });
    }
  });

const MountPoint = z
  .strictObject({
    path: z
      .string()
      .regex(/^\/[^,;=\s]*$/, "must be an absolute path inside the container without , ; = or spaces, such as /srv/data")
      .describe("Where the volume appears inside the container."),
    pool: z.string().min(1).optional(),
    sizeGiB: SizeGiB.optional(),
    volume: z.string().min(1).optional().describe("An existing volume, e.g. `local-lvm:vm-101-disk-1`."),
    readOnly: z.boolean().default(false),
    backup: z.boolean().default(false).describe("Include the mount point in backups (the root file system always is)."),
  })
  .superRefine((mp, ctx) => {
    if (mp.volume !== undefined && (mp.pool !== undefined || mp.sizeGiB !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["volume"], message: "give either volume, or pool with sizeGiB, not both" });
    }
    if (mp.volume === undefined && (mp.pool === undefined || mp.sizeGiB === undefined)) {
      ctx.addIssue({ code: "custom", path: ["pool"], message: "a new mount point needs both pool and sizeGiB (or give volume)" });
    }
  });

const ContainerNic = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/, "must be an interface name of up to 15 characters such as eth0")
      .optional()
      .describe("Interface name inside the container; defaults to ethN for netN."),
    bridge: z.string().min(1).describe("Host bridge (or SDN vnet) to plug into, e.g. `vmbr0`."),
    mac: MacAddress.optional(),
    ip: z
      .union([
        z.literal("dhcp"),
        z.literal("manual"),
        z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/([0-9]|[12]\d|3[0-2])$/, 'must be "dhcp", "manual" or an IPv4 CIDR such as "10.0.0.5/24"'),
      ])
      .default("dhcp"),
    gateway: Ipv4.optional(),
    vlan: z.int().min(1).max(4094).optional(),
    firewall: z.boolean().default(false),
    rateMBps: z.number().positive().max(100000).optional().describe("Bandwidth limit in MB/s."),
  })
  .superRefine((nic, ctx) => {
    if (nic.gateway !== undefined && !nic.ip.includes("/")) {
      ctx.addIssue({ code: "custom", path: ["gateway"], message: `a gateway needs a static ip (CIDR), not "${nic.ip}"` });
    }
  });

export const ContainerInputs = z
  .strictObject({
    host: HostRef,
    name: Hostname.describe("The container's host name; NovaCron finds its container by it."),
    template: z.string().min(1).optional().describe("OS template volume to create from, e.g. `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`."),
    restoreFrom: z.string().min(1).optional().describe("A backup archive to create the container from (a Backup's `archive` output) instead of a template."),
    cpu: z
      .strictObject({
        cores: z.int().min(1).max(8192).default(1),
        limit: z.number().min(0).max(8192).optional().describe("CPU time ceiling in cores (0: none)."),
        units: z.int().min(1).max(500000).optional().describe("Relative CPU weight."),
      })
      .default({ cores: 1 }),
    memory: z
      .strictObject({
        sizeMiB: z
          .int()
          .min(16)
          .max(16 * 1024 * 1024)
          .default(512),
        swapMiB: z
          .int()
          .min(0)
          .max(16 * 1024 * 1024)
          .default(512),
      })
      .default({ sizeMiB: 512, swapMiB: 512 }),
    rootfs: RootFs.describe("The root file system."),
    mountPoints: z
      .record(z.string().regex(/^mp(\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])$/, "mount point slots are mp0 … mp255"), MountPoint)
      .default({})
      .describe("Extra volumes keyed by slot (mp0 …): reordering never replaces."),
    nics: z
      .record(z.string().regex(/^net([0-9]|[1-2]\d|3[01])$/, "NIC slots are net0 … net31"), ContainerNic)
      .default({})
      .describe("Network interfaces keyed by slot (net0 …)."),
    unprivileged: z.boolean().default(true).describe("Map the container's root to an unprivileged host user (the safe default)."),
    features: z
      .strictObject({
        nesting: z.boolean().default(false).describe("Allow containers (or Docker) inside."),
        keyctl: z.boolean().default(false),
        fuse: z.boolean().default(false),
      })
      .default({ nesting: false, keyctl: false, fuse: false }),
    sshPublicKeys: z
      .array(z.string().regex(/^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+( [^\n]*)?$/, "must be an OpenSSH public key line"))
      .default([])
      .describe("Keys for root, set at creation."),
    onBoot: z.boolean().default(false).describe("Start the container when the host boots."),
    powerState: z.enum(["running", "stopped"]).default("running"),
    updatePolicy: z
      .strictObject({
        allowReboot: z.boolean().default(false).describe("Allow changes that restart the container."),
        shutdownTimeoutSeconds: z.int().min(0).max(3600).default(60).describe("Graceful shutdown deadline before a forced stop."),
      })
      .default({ allowReboot: false, shutdownTimeoutSeconds: 60 }),
    adopt: Adopt,
    deleteOnDestroy: DeleteOnDestroy,
    labels: Labels,
  })
  .superRefine((ct, ctx) => {
    if ((ct.template === undefined) === (ct.restoreFrom === undefined)) {
      ctx.addIssue({ code: "custom", path: ["template"], message: "give exactly one of template (an OS template volume) or restoreFrom (a backup archive)" });
    }
    const paths = new Map<string, string>();
    for (const [slot, mp] of Object.entries(ct.mountPoints)) {
      const other = paths.get(mp.path);
      if (other) ctx.addIssue({ code: "custom", path: ["mountPoints", slot, "path"], message: `"${mp.path}" is already the path of ${other}` });
      if (mp.path === "/") ctx.addIssue({ code: "custom", path: ["mountPoints", slot, "path"], message: '"/" is the root file system (rootfs)' });
      paths.set(mp.path, slot);
    }
  });
export type ContainerSpec = z.output<typeof ContainerInputs>;
export type ContainerArgs = z.input<typeof ContainerInputs>;
