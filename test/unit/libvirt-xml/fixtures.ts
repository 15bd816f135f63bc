import { VirtualMachineInputs, type VirtualMachineArgs, type VirtualMachineSpec } from "../../../provider/core/model";
import type { DomainBuildContext } from "../../../provider/drivers/libvirt/xml";

export function vm(args: Partial<VirtualMachineArgs>): VirtualMachineSpec {
  return VirtualMachineInputs.parse({ host: "kvm1", name: "web", memory: { sizeMiB: 1024 }, ...args });
}

/** A context that resolves every disk to a file path and every passthrough device to a made-up address. */
export function ctxFor(spec: VirtualMachineSpec, extra: Partial<DomainBuildContext> = {}): DomainBuildContext {
  const disks: DomainBuildContext["disks"] = {};
  for (const slot of Object.keys(spec.disks)) disks[slot] = { kind: "file", path: `/var/lib/novacron/images/${spec.name}-${slot}.qcow2`, format: "qcow2" };
  const passthrough: NonNullable<DomainBuildContext["passthrough"]> = {};
  Object.values(spec.passthrough).forEach((p, i) => {
    passthrough[p.device] = p.device.startsWith("usb")
      ? { kind: "usb", vendorId: 0x046d, productId: 0xc52b + i }
      : { kind: "pci", address: { domain: 0, bus: 0x3b + i, slot: 0, function: 0 } };
  });
  return {
    type: "qemu",
    disks,
    passthrough,
    cloudInitSeed: spec.cloudInit ? `/var/lib/novacron/seeds/${spec.name}.iso` : undefined,
    ownership: { resource: `urn:pulumi:dev::lab::novacron:index:VirtualMachine::${spec.name}`, stack: "dev", project: "lab" },
    ...extra,
  };
}

/** Specs that between them use every part of the builder. */
export const SPECS: Record<string, VirtualMachineSpec> = {
  minimal: vm({}),
  pinnedNuma: vm({
    name: "db",
    cpu: {
      sockets: 2,
      cores: 2,
      threads: 1,
      mode: "host-passthrough",
      pinning: { "0": "2", "1": "3", "2": "4-5", "3": "6,8" },
      emulatorPinning: "0-1",
      numa: [
        { vcpus: "0-1", memoryMiB: 2048, hostNode: 0 },
        { vcpus: "2-3", memoryMiB: 2048, hostNode: 1 },
      ],
    },
    memory: { sizeMiB: 4096, maxMiB: 8192, hugepages: { pageSizeKiB: 2048 } },
    disks: { vda: { volume: "root", cache: "none", io: "native", iothread: 1, bootOrder: 1 } },
  }),
  scsiMultiqueue: vm({
    name: "storage1",
    cpu: { cores: 4, maxVcpus: 8, mode: "custom", model: "Skylake-Server" },
    memory: { sizeMiB: 2048, maxMiB: 4096, balloon: { statsPeriodSeconds: 5 } },
    disks: {
      scsi0: { volume: "a", iothread: 1, bootOrder: 1 },
      scsi1: { volume: "b", iothread: 2 },
      sdb: { volume: "c", cache: "writeback" },
      vdc: { volume: "d", readOnly: true, format: "raw" },
    },
    nics: {
      net0: { network: "lab", queues: 4, mac: "52:54:00:aa:bb:01", bootOrder: 2 },
      net2: { bridge: "br0", model: "e1000e" },
    },
  }),
  gpuSecure: vm({
    name: "gpu1",
    cpu: { sockets: 1, cores: 2, threads: 2, mode: "host-model", maxVcpus: 8 },
    memory: { sizeMiB: 8192, hugepages: { pageSizeKiB: 1048576 } },
    disks: { vda: { volume: "root" }, sata0: { volume: "data", bus: "sata" } },
    nics: { net0: { sriovPool: "vf-pool", vlan: 7, mac: "52:54:00:aa:bb:02" } },
    passthrough: { hostdev0: { device: "gpu-a" }, hostdev1: { device: "gpu-a-audio", romBar: false }, hostdev3: { device: "usb-key" } },
    firmware: { type: "uefi", secureBoot: true, tpm: true },
    cloudInit: { userData: "#cloud-config\n" },
    console: { kind: "vnc", listen: "0.0.0.0", password: 's3cr<t&"' },
    labels: { team: "ml", "app.kubernetes.io/name": "trainer" },
  }),
  pcSpice: vm({
    name: "legacy",
    machine: "pc",
    cpu: { sockets: 2, cores: 1, threads: 1 },
    disks: { sda: { volume: "root", bus: "sata", bootOrder: 1 } },
    nics: { net0: { network: "lab", model: "rtl8139" } },
    firmware: { type: "uefi" },
    cloudInit: { userData: "#cloud-config\n" },
    console: { kind: "spice" },
  }),
};
