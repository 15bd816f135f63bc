import { no, type HypervisorCapabilities } from "../../core/capabilities";
import { vsphereTranslationProblems } from "./translation-check";

/** vSphere refuses manual MACs outside VMware's own block for them (OUI 00:50:56, next byte 00-3F). */
export const MANUAL_MAC_RANGE = { first: "00:50:56:00:00:00", last: "00:50:56:3f:ff:ff", why: "VMware's range for manually assigned addresses" };

/**
 * VMware vSphere (vim25). Neutral names map onto vSphere's own devices: a virtio disk goes on a
 * paravirtual SCSI controller, a virtio NIC becomes vmxnet3.
 */
export const VSPHERE_CAPABILITIES: HypervisorCapabilities = {
  driver: "vsphere",
  product: "VMware vSphere",
  liveMigration: true,
  storageMigration: true,
  // Scheduling affinity: one host CPU set for all vCPUs (translate.ts refuses per-vCPU sets).
  // vCenter itself refuses it for a VM in a fully automated DRS cluster.
  cpuPinning: true,
  emulatorPinning: no("VMware vSphere has no emulator threads to pin"),
  numa: no("VMware vSphere sizes virtual NUMA itself; explicit NUMA cells are not supported"),
  hugepages: no("VMware vSphere backs guest memory with large pages itself; there is no per-VM hugepage setting"),
  hugepageSizesKiB: [],
  ballooning: true,
  // DirectPath I/O: a device the vSphere admin enabled for passthrough on the VM's ESXi host.
  gpuPassthrough: true,
  pciPassthrough: true,
  // Host USB devices the ESXi host's USB arbitrator offers (the config target's usb list), on an
  // xHCI controller NovaCron adds when the VM has none.
  usbPassthrough: true,
  // Decision 0026: an SR-IOV adapter changes what every other change of the VM may be.
  sriov: no(
    "NovaCron's vSphere driver does not attach SR-IOV functions yet: vSphere takes vMotion, snapshots and hot-add of devices, memory and vCPUs away from a VM with one, which NovaCron's plans cannot express yet; use a portgroup",
  ),
  uefi: true,
  secureBoot: true,
  tpm: true,
  snapshots: true,
  memorySnapshots: true,
  quiesceSnapshots: true,
  snapshotRollback: no("NovaCron's vSphere driver does not revert to snapshots yet"),
  cloudInit: true,
  kernelBoot: no("VMware vSphere boots only from virtual disks and ISO images"),
  containers: no("VMware vSphere runs virtual machines only (containers run inside them)"),
  backups: no("VMware vSphere has no backup archive API of its own (backup products use VADP snapshots); use Snapshot"),
  hotplug: { cpu: true, memory: true, disk: true, nic: true },
  hotplugDiskBuses: ["virtio-blk", "virtio-scsi"],
  cpuModes: ["host-model"],
  // Every disk goes on one SCSI controller: SATA/NVMe controllers are not built yet.
  diskBuses: ["virtio-blk", "virtio-scsi"],
  nicModels: ["virtio", "vmxnet3", "e1000e", "e1000", "vmxnet2"],
  consoles: ["none"],
  volumeFormats: ["vmdk"],
  poolKinds: ["datastore"],
  networkModes: ["bridge"],
  passthroughKinds: ["gpu", "pci", "usb"],
  passthroughMigration: no(
    "vSphere cannot vMotion a VM with DirectPath I/O devices or host USB devices on a local backing, which belong to one ESXi host; remove the passthrough slots first (a cold change), move the VM, then add devices of the new host",
  ),
  fixedMacRange: MANUAL_MAC_RANGE,
  limits: { maxVcpus: 768, maxMemoryMiB: 24 * 1024 * 1024, maxConcurrentVms: 1024, maxDisks: 60, maxNics: 10 },
  features: [
    "virtio-blk/virtio-scsi disks → ParaVirtual SCSI",
    "virtio NIC → vmxnet3",
    "fixed MAC → manual address (00:50:56:00:00:00-00:50:56:3f:ff:ff)",
    "cloud-init → guestinfo extraConfig",
    "network → portgroup",
    "passthrough → VirtualPCIPassthrough (DirectPath I/O), memory reservation locked to max",
    "usb passthrough → VirtualUSB on the host's port (local backing), an xHCI controller added when needed",
    "cpu.pinning → scheduling affinity (cpuAffinity): the same host CPU set for every vCPU",
    "firmware.tpm → a VirtualTPM device (vCenter needs a key provider)",
    "disks/nics bootOrder → bootOptions.bootOrder (by device key)",
  ],
  changeRules: {
    // vSphere's CPU hot-add adds whole sockets, never removes CPUs, and never changes cores per
    // socket on a running VM. With cpu.maxVcpus set (hot-add on) NovaCron gives every vSphere
    // socket cpu.threads cores, so any vCPU count is whole sockets and growing `cores` or
    // `sockets` is a hot-add; past cpu.maxVcpus the neutral ceiling rule makes it a reboot.
    "cpu.sockets": {
      grow: { disruption: "hotplug", why: "vSphere CPU hot-add adds sockets to the running VM within cpu.maxVcpus" },
      shrink: { disruption: "cold", why: "vSphere removes CPUs only while the VM is powered off" },
    },
    "cpu.cores": {
      grow: { disruption: "hotplug", why: "vSphere CPU hot-add adds the vCPUs as sockets (cores per socket kept) within cpu.maxVcpus" },
      shrink: { disruption: "cold", why: "vSphere removes CPUs only while the VM is powered off" },
    },
    "memory.sizeMiB": {
      grow: { disruption: "hotplug", why: "vSphere memory hot-add within memory.maxMiB" },
      shrink: { disruption: "cold", why: "vSphere shrinks memory only while the VM is powered off" },
    },
    "nics.*.network": { disruption: "live", why: "the NIC's portgroup backing is reconfigured on the running VM" },
    // bootOptions.bootOrder is edited on the running VM; nothing restarts it to apply.
    "disks.*.bootOrder": { disruption: "live", why: "vSphere keeps the boot order with the running VM; its firmware reads it at the next start" },
    "nics.*.bootOrder": { disruption: "live", why: "vSphere keeps the boot order with the running VM; its firmware reads it at the next start" },
    // The NIC keeps its slot and device; only its address is edited, which vSphere takes powered off.
    "nics.*.mac": { disruption: "cold", why: "vSphere changes a NIC's MAC address only while the VM is powered off" },
    // A portgroup's VLAN is edited in place (UpdatePortGroup, or the distributed portgroup's
    // default port setting); replacing it would first remove a portgroup VMs are plugged into.
    "Network:vlan": { disruption: "live", why: "the portgroup's VLAN is changed in place (portgroups NovaCron made only)" },
    // One rule for every slot: the field does not say whether its device is PCI or USB.
    "passthrough.*": {
      disruption: "cold",
      why: "vSphere adds and removes DirectPath I/O devices only while the VM is powered off (NovaCron changes USB devices the same way)",
    },
  },
  translationProblems: vsphereTranslationProblems,
};
