import * as pulumi from "@pulumi/pulumi";
// Inside this repository the sdk is imported by path; a project of your own writes
// `import * as nc from "novacron"` after `npm install novacron`.
import * as nc from "../../sdk";

/**
 * The quickstart: everything a VM needs on the local KVM/QEMU host. The guest is a tiny Linux
 * built from Debian packages by test/testbeds/guest-image.sh (kernel + busybox initramfs) that
 * takes a DHCP lease, so the IP output is real. To boot a real cloud image instead, see README.md.
 */
const config = new pulumi.Config("quickstart");
const guestDir = config.get("guestDir") ?? `${process.cwd()}/../../.cache/guest`;
// Try a live change: `pulumi config set quickstart:cores 2` (hot-added vCPU), `quickstart:memoryMiB 320`
// (the balloon); the preview's plannedChanges says how each is applied.
const cores = config.getNumber("cores") ?? 1;
const memoryMiB = config.getNumber("memoryMiB") ?? 192;
// Names and subnet can be moved aside, so a second copy (the e2e tests') never meets this one.
const prefix = config.get("prefix") ?? "nc-quickstart";
const subnet = config.get("subnet") ?? "10.77.0";
const poolPath = config.get("poolPath") ?? `/var/lib/novacron/${prefix.replace(/^nc-/, "")}`;

const pool = new nc.StoragePool("images", { host: "local", name: prefix, kind: "dir", path: poolPath, labels: { app: "quickstart" } });

const root = new nc.Volume("web-root", {
  host: "local",
  pool: pool.name,
  name: "web-root.qcow2",
  sizeGiB: 1,
  format: "qcow2",
  labels: { app: "quickstart" },
});

const net = new nc.Network("lab", {
  host: "local",
  name: prefix,
  mode: "isolated",
  cidr: `${subnet}.0/24`,
  dhcp: {},
  labels: { app: "quickstart" },
});

const web = new nc.VirtualMachine("web", {
  host: "local",
  name: `${prefix}-web`,
  machine: "pc",
  cpu: { cores, maxVcpus: 2 },
  memory: { sizeMiB: memoryMiB, maxMiB: 512, balloon: { statsPeriodSeconds: 10 } },
  disks: { vda: { volume: root.id } },
  nics: { net0: { network: net.name } },
  kernelBoot: { kernel: `${guestDir}/vmlinuz`, initrd: `${guestDir}/initrd.img`, cmdline: "console=ttyS0" },
  cloudInit: { userData: "#cloud-config\nhostname: web\n" },
  powerState: "running",
  waitForIp: { timeoutSeconds: 180 },
  updatePolicy: { allowReboot: false, shutdownTimeoutSeconds: 30 },
  labels: { app: "quickstart" },
});

export const vmId = web.id;
export const vmState = web.state;
export const vmHost = web.host;
export const mac = web.macAddresses.apply((m) => m?.net0);
export const ip = web.ipAddress;
export const lastChange = web.lastChange;
