import * as pulumi from "@pulumi/pulumi";
import * as nc from "../../../../sdk";

// novacron:hosts comes from the stack config the test writes (two libvirt hosts).
const config = new pulumi.Config("mover");
const guestDir = config.require("guestDir");

// No disk and no NIC: nothing host-local, so the guest migrates without shared storage.
const vm = new nc.VirtualMachine("mover", {
  host: config.require("host"),
  name: config.require("name"),
  machine: "pc",
  cpu: { cores: 1 },
  memory: { sizeMiB: 256 },
  kernelBoot: { kernel: `${guestDir}/vmlinuz`, initrd: `${guestDir}/initrd.img`, cmdline: "console=ttyS0" },
  powerState: "running",
  updatePolicy: { shutdownTimeoutSeconds: 2 },
  labels: { app: "e2e" },
});

export const host = vm.host;
export const id = vm.id;
