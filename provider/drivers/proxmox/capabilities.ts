import { no, type HypervisorCapabilities } from "../../core/capabilities";
import { proxmoxTranslationProblems } from "./translation-check";

/** Proxmox VE: QEMU underneath, so close to libvirt; the API sets vCPU affinity but not emulator threads. */
export const PROXMOX_CAPABILITIES: HypervisorCapabilities = {
  driver: "proxmox",
  product: "Proxmox VE",
  liveMigration: true,
  storageMigration: true,
  cpuPinning: true,
  emulatorPinning: no("Proxmox VE's API sets vCPU affinity only, not emulator threads"),
  numa: true,
  hugepages: true,
  hugepageSizesKiB: [2048, 1048576],
  ballooning: true,
  gpuPassthrough: true,
  pciPassthrough: true,
  usbPassthrough: true,
  sriov: true,
  uefi: true,
  secureBoot: true,
  tpm: true,
  snapshots: true,
  memorySnapshots: true,
  quiesceSnapshots: true,
  snapshotRollback: true,
  cloudInit: true,
  kernelBoot: no("Proxmox VE's API does not expose direct kernel boot"),
  containers: true,
  backups: true,
  templateClones: true,
  structuredCloudInit: true,
  hotplug: { cpu: true, memory: true, disk: true, nic: true },
  hotplugDiskBuses: ["virtio-blk", "virtio-scsi"],
  cpuModes: ["host-passthrough", "host-model", "custom"],
  diskBuses: ["virtio-blk", "virtio-scsi", "sata"],
  nicModels: ["virtio", "e1000e", "vmxnet3", "rtl8139"],
  consoles: ["none", "vnc", "spice"],
  volumeFormats: ["qcow2", "raw", "vmdk"],
  poolKinds: ["dir", "netfs", "logical", "zfs", "iscsi", "rbd"],
  networkModes: ["bridge", "sriov"],
  passthroughKinds: ["gpu", "pci", "sriov-vf", "usb"],
  limits: { maxVcpus: 512, maxMemoryMiB: 4 * 1024 * 1024, maxConcurrentVms: 1000, maxDisks: 30, maxNics: 32 },
  features: [
    "disks keyed by slot: scsiN/sdX → scsiN (virtio-scsi), vdX → virtioN (virtio-blk), sataN → sataN",
    "ownership: the tag `novacron`; labels in the VM's description",
    "updates read PVE's pending changes back: what PVE left pending needs a restart",
    "cloneFrom: linked or full clones of a template, one per template/storage/node at a time, then the spec written over the copy",
    "cloud-init as fields (user, sshKeys, ipConfig per NIC) → ciuser/cipassword/sshkeys/ipconfigN; documents need snippet files and are refused",
    "a host change within the cluster migrates (online when running, with local disks); a disk's pool change is a move_disk",
    "restoreFrom: a VM created from a vzdump-qemu archive (qmrestore through the create call), then the spec written over it",
    "Network: a Linux bridge on the node (applied at once, marked in its comment); NAT/routed/isolated subnets are SDN on PVE and refused",
    "cpu.maxVcpus: sockets × cores is the ceiling and vcpus the booted count (with cpu added to hotplug); the ceiling must be a multiple of cpu.sockets",
    "memory.maxMiB: memory in hotplug with numa=1; PVE has no key for the ceiling itself (it sizes QEMU's maximum on its own), so NovaCron keeps it in state and plans growth within it",
    "PassthroughDevice: a PCI cluster resource mapping; a VM's passthrough slot hostdevN becomes hostpciN=mapping=<id>",
  ],
  changeRules: {
    // PVE's default `hotplug` is network,disk,usb: CPU and memory edits of a running VM stay
    // pending until it restarts (qm(1), "hotplug"); the driver reads /pending to confirm.
    // With cpu.maxVcpus the driver writes sockets × cores as the ceiling, the boot count as
    // `vcpus` and adds cpu to `hotplug`, so growing within the ceiling is a live vcpus change;
    // past it (no ceiling, the default hotplug) PVE keeps the change pending (the shared
    // ceiling check says so). QEMU cannot unplug the vCPUs a VM booted with: fewer wait for a restart.
    "cpu.cores": {
      grow: { disruption: "hotplug", why: "Proxmox VE brings vCPUs online live up to sockets × cores (vcpus, with cpu in hotplug) within cpu.maxVcpus" },
      shrink: { disruption: "reboot", why: "QEMU cannot unplug the vCPUs the VM booted with; Proxmox VE keeps fewer vcpus pending until the VM restarts" },
    },
    // With memory.maxMiB the driver adds memory to `hotplug` (and numa=1, which PVE requires), so
    // PVE plugs memory into the running VM; past the ceiling (no ceiling: the default hotplug)
    // the shared ceiling check makes it a reboot. Taking memory away is not counted on live.
    "memory.sizeMiB": {
      grow: { disruption: "hotplug", why: "Proxmox VE hot-plugs memory into the running VM (memory in hotplug, with NUMA) within memory.maxMiB" },
      shrink: { disruption: "reboot", why: "Proxmox VE cannot be relied on to unplug memory from a running guest; less memory takes effect at a restart" },
    },
    "memory.balloon": { disruption: "live", why: "the balloon target is applied to the running VM" },
    "nics.*.model": { disruption: "reboot", why: "Proxmox VE keeps a NIC model change pending until the VM restarts" },
    "nics.*.queues": { disruption: "reboot", why: "Proxmox VE keeps a queue change pending until the VM restarts" },
    "disks.*.cache": { disruption: "reboot", why: "Proxmox VE keeps drive option changes pending until the VM restarts" },
    "disks.*.io": { disruption: "reboot", why: "Proxmox VE keeps drive option changes pending until the VM restarts" },
    "disks.*.iothread": { disruption: "reboot", why: "Proxmox VE keeps drive option changes pending until the VM restarts" },
    "disks.*.readOnly": { disruption: "reboot", why: "Proxmox VE keeps drive option changes pending until the VM restarts" },
    "disks.*.pool": { disruption: "live", why: "the disk moves to the other storage with its content while the VM runs (move_disk)" },
    console: { disruption: "reboot", why: "the display device changes at the next start" },
  },
  translationProblems: proxmoxTranslationProblems,
};
