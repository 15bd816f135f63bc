import { no, type HypervisorCapabilities } from "../../core/capabilities";
import { libvirtTranslationProblems } from "./translation-check";

/** KVM/QEMU through libvirt: the reference hypervisor, nearly everything the model describes. */
export const LIBVIRT_CAPABILITIES: HypervisorCapabilities = {
  driver: "libvirt",
  product: "KVM/QEMU (libvirt)",
  liveMigration: true,
  storageMigration: true,
  cpuPinning: true,
  emulatorPinning: true,
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
  snapshotRollback: no("NovaCron's libvirt driver does not revert to snapshots yet"),
  cloudInit: true,
  kernelBoot: true,
  containers: no("NovaCron's libvirt driver manages QEMU/KVM domains only; libvirt's LXC driver is a separate connection it does not open"),
  backups: no("libvirt has no backup archive store; use Snapshot, or copy a Volume"),
  hotplug: { cpu: true, memory: true, disk: true, nic: true },
  hotplugDiskBuses: ["virtio-blk", "virtio-scsi", "scsi", "usb"],
  cpuModes: ["host-passthrough", "host-model", "custom", "hypervisor-default"],
  diskBuses: ["virtio-blk", "virtio-scsi", "sata", "nvme", "ide", "scsi", "usb", "sd"],
  nicModels: ["virtio", "e1000e", "rtl8139", "e1000", "pcnet", "ne2k_pci", "i82551", "i82557b", "i82559er", "hypervisor-default"],
  consoles: ["none", "vnc", "spice"],
  volumeFormats: ["qcow2", "raw", "vmdk"],
  poolKinds: ["dir", "fs", "netfs", "logical", "zfs", "iscsi", "rbd"],
  networkModes: ["nat", "routed", "isolated", "bridge", "sriov"],
  passthroughKinds: ["gpu", "pci", "sriov-vf", "usb"],
  limits: { maxVcpus: 1024, maxMemoryMiB: 16 * 1024 * 1024, maxConcurrentVms: 1000, maxDisks: 64, maxNics: 32 },
  features: ["cloud-init as a NoCloud seed ISO", "vmxnet3 is not a QEMU NIC model: use virtio"],
  changeRules: {
    // vCPUs the domain booted with are not hot-pluggable in QEMU, so libvirt refuses to take them
    // away live ("failed to find appropriate hotpluggable vcpus"); the plan says so up front.
    // docs/decisions/0019-libvirt-vcpu-removal-is-reboot.md
    "cpu.cores": {
      grow: { disruption: "hotplug", why: "vCPUs are hot-added to the running VM within cpu.maxVcpus" },
      shrink: { disruption: "reboot", why: "QEMU cannot unplug the vCPUs the VM booted with; fewer vCPUs take effect at a restart" },
    },
    // libvirt re-pins a running domain (virDomainPinVcpuFlags / PinEmulator with LIVE|CONFIG).
    "cpu.pinning": { disruption: "live", why: "vCPUs are re-pinned on the running VM" },
    "cpu.emulatorPinning": { disruption: "live", why: "emulator threads are re-pinned on the running VM" },
  },
  translationProblems: libvirtTranslationProblems,
};
