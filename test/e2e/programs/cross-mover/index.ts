import * as pulumi from "@pulumi/pulumi";
import * as nc from "../../../../sdk";

// novacron:hosts comes from the stack config the test writes: one libvirt host, one vSphere host.
const config = new pulumi.Config("xmove");
// The pool is a libvirt storage pool on KVM and a datastore on vSphere: it changes with the host.
const pool = config.require("pool");

// Two disks the VM owns (pool + size): what a cross-hypervisor move copies. No kernelBoot
// (vSphere boots only from disks), no NIC by default (the networks of two hypervisors have other names).
const vm = new nc.VirtualMachine("xm", {
  host: config.require("host"),
  name: config.require("name"),
  cpu: { cores: 1 },
  memory: { sizeMiB: 128 },
  disks: { vda: { pool, sizeGiB: 0.0625 }, vdb: { pool, sizeGiB: 0.03125 } },
  // A NIC only where a test asks for one (a portgroup the target may not have).
  ...(config.get("network") ? { nics: { net0: { network: config.require("network") } } } : {}),
  powerState: config.get("power") === "stopped" ? "stopped" : "running",
  updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 3 },
  labels: { app: "xmove" },
});

export const host = vm.host;
export const id = vm.id;
export const hostId = vm.hostId;
export const state = vm.state;
export const lastChangeClass = vm.lastChangeClass;
