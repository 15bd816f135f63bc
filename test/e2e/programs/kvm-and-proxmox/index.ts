import * as pulumi from "@pulumi/pulumi";
import * as nc from "../../../../sdk";

// The same neutral VM description on two hypervisors. The hosts `kvm` and `pve` are entries of
// the stack config novacron:hosts (set as a secret by the test, with fakepve's login).
const config = new pulumi.Config("e2e");
const prefix = config.require("prefix");

const kvm = new nc.VirtualMachine("kvm-vm", {
  host: "kvm",
  name: `${prefix}-kvm`,
  cpu: { cores: 1 },
  memory: { sizeMiB: 128 },
  powerState: "stopped",
  labels: { app: "e2e" },
});

const pve = new nc.VirtualMachine("pve-vm", {
  host: "pve",
  name: `${prefix}-pve`,
  cpu: { cores: config.getNumber("pveCores") ?? 1 },
  memory: { sizeMiB: 512 },
  disks: { scsi0: { pool: "local-lvm", sizeGiB: 2 } },
  nics: { net0: { bridge: "vmbr0" } },
  updatePolicy: { allowReboot: config.getBoolean("allowReboot") ?? false, shutdownTimeoutSeconds: 5 },
  labels: { app: "e2e" },
});

export const kvmState = kvm.state;
export const pveId = pve.id;
export const pveState = pve.state;
export const pveLastChangeClass = pve.lastChangeClass;
