import type { Hosts } from "../../core/hosts";

/**
 * The inputs the parity matrix is computed from: one VM written once, the optional features set
 * one at a time on top of it (probes), and the changes a program makes over a VM's life. Only
 * the inputs are written here; every answer in the matrix comes from the code that answers a
 * real preview (the capability tables, the change rules, each driver's translation checks).
 * The conformance suite (test/conformance) applies the same changes on real testbeds.
 */

/** One host entry of each kind, named after its kind; check() needs no host to answer. */
export const PARITY_HOSTS: Hosts = {
  libvirt: { driver: "libvirt", uri: "qemu:///system" },
  vsphere: { driver: "vsphere", url: "https://vc.example/sdk", username: "ops", password: "unused", datacenter: "DC0", insecure: false },
  proxmox: { driver: "proxmox", url: "https://pve.example:8006", tokenId: "ops@pve!parity", tokenSecret: "unused", node: "pve", insecure: false },
  hyperv: { driver: "hyperv", host: "hv.example", username: "Administrator" },
  xcpng: { driver: "xcpng", url: "https://xcp.example", username: "root", password: "unused", insecure: false },
  "libvirt-b": { driver: "libvirt", uri: "qemu+tcp://10.0.0.2/system" },
  "vsphere-b": { driver: "vsphere", url: "https://vc.example/sdk", username: "ops", password: "unused", datacenter: "DC0", host: "esx2", insecure: false },
  "proxmox-b": { driver: "proxmox", url: "https://pve2.example:8006", tokenId: "ops@pve!parity", tokenSecret: "unused", node: "pve2", insecure: false },
  "hyperv-b": { driver: "hyperv", host: "hv2.example", username: "Administrator" },
  "xcpng-b": { driver: "xcpng", url: "https://xcp2.example", username: "root", password: "unused", insecure: false },
};

type Spec = Record<string, unknown>;

/** The VM every probe and change starts from: what the README's first example asks for, without ceilings. */
export const BASE_VM: Spec = {
  name: "nc-parity",
  cpu: { cores: 2 },
  memory: { sizeMiB: 1024 },
  disks: { scsi0: { pool: "pool0", sizeGiB: 1 } },
  nics: { net0: { network: "net0" } },
  powerState: "running",
  // Restarts allowed: the matrix shows how disruptive a change is, not whether a policy forbids it.
  updatePolicy: { allowReboot: true },
};

/** An optional feature: the field it is written in, and the spec that uses it. */
export interface FieldProbe {
  field: string;
  /** The matrix row's key where one field has several probes; the field otherwise. */
  key?: string;
  title: string;
  /** The spec, or per driver kind where only the form of an id differs (a volume id). */
  spec: Spec | ((kind: string) => Spec);
}

const withCpu = (cpu: Spec): Spec => ({ ...BASE_VM, cpu: { ...(BASE_VM.cpu as Spec), ...cpu } });
const withMemory = (memory: Spec): Spec => ({ ...BASE_VM, memory: { ...(BASE_VM.memory as Spec), ...memory } });
const withDisk = (disk: Spec): Spec => ({ ...BASE_VM, disks: { scsi0: { ...(BASE_VM.disks as Record<string, Spec>).scsi0, ...disk } } });
const withNic = (nic: Spec): Spec => ({ ...BASE_VM, nics: { net0: { ...(BASE_VM.nics as Record<string, Spec>).net0, ...nic } } });

export const FIELD_PROBES: FieldProbe[] = [
  { field: "cpu.maxVcpus", title: "vCPU ceiling for hot-add", spec: withCpu({ maxVcpus: 8 }) },
  { field: "cpu.sockets", title: "several sockets", spec: withCpu({ sockets: 2, cores: 1 }) },
  { field: "cpu.threads", title: "SMT threads", spec: withCpu({ cores: 1, threads: 2 }) },
  { field: "cpu.mode", title: "host-passthrough CPU", spec: withCpu({ mode: "host-passthrough" }) },
  { field: "cpu.model", title: "a named CPU model", spec: withCpu({ mode: "custom", model: "Skylake-Server" }) },
  { field: "cpu.pinning", title: "vCPU pinning", spec: withCpu({ pinning: { "0": "0", "1": "1" } }) },
  {
    field: "cpu.pinning",
    key: "cpu.pinning.shared",
    title: "every vCPU on one host CPU set (scheduling affinity)",
    spec: withCpu({ pinning: { "0": "0-1", "1": "0-1" } }),
  },
  { field: "cpu.emulatorPinning", title: "emulator thread pinning", spec: withCpu({ emulatorPinning: "0" }) },
  {
    field: "cpu.numa",
    title: "guest NUMA cells",
    spec: withCpu({
      numa: [
        { vcpus: "0", memoryMiB: 512 },
        { vcpus: "1", memoryMiB: 512 },
      ],
    }),
  },
  { field: "memory.maxMiB", title: "memory ceiling for live growth", spec: withMemory({ maxMiB: 4096 }) },
  { field: "memory.hugepages", title: "hugepage backing", spec: withMemory({ hugepages: { pageSizeKiB: 2048 } }) },
  { field: "memory.balloon", title: "balloon settings", spec: withMemory({ balloon: { minMiB: 512 } }) },
  {
    field: "disks.*.volume",
    title: "a disk from a Volume",
    spec: (kind) => ({ ...BASE_VM, disks: { scsi0: { volume: kind === "vsphere" ? "[pool0] vol0.vmdk" : "pool0/vol0" } } }),
  },
  { field: "disks.*.cache", title: "disk cache mode", spec: withDisk({ cache: "writeback" }) },
  { field: "disks.*.io", title: "disk I/O mode", spec: withDisk({ io: "threads" }) },
  { field: "disks.*.iothread", title: "disk iothread", spec: withDisk({ iothread: 1 }) },
  { field: "disks.*.discard", title: "discard (TRIM)", spec: withDisk({ discard: "unmap" }) },
  { field: "disks.*.readOnly", title: "read-only disk", spec: withDisk({ readOnly: true }) },
  { field: "disks.*.bootOrder", title: "disk boot order", spec: withDisk({ bootOrder: 1 }) },
  {
    field: "cdroms",
    title: "a CD-ROM drive",
    // An ISO where the host keeps it: on ESXi a datastore is mounted at /vmfs/volumes/<name>.
    spec: (kind) => ({ ...BASE_VM, cdroms: { sata1: { image: kind === "vsphere" ? "/vmfs/volumes/pool0/iso/parity.iso" : "/srv/parity.iso" } } }),
  },
  { field: "nics.*.mac", title: "a fixed MAC (VMware's manual range, valid everywhere)", spec: withNic({ mac: "00:50:56:00:00:01" }) },
  { field: "nics.*.queues", title: "multiqueue NIC", spec: withNic({ queues: 2 }) },
  { field: "nics.*.vlan", title: "a VLAN tag on the NIC", spec: withNic({ vlan: 10 }) },
  { field: "nics.*.bridge", title: "a NIC on a host bridge", spec: { ...BASE_VM, nics: { net0: { bridge: "br0" } } } },
  { field: "passthrough", title: "a passthrough device", spec: { ...BASE_VM, passthrough: { hostdev0: { device: "dev0" } } } },
  { field: "firmware.type", title: "UEFI firmware", spec: { ...BASE_VM, firmware: { type: "uefi" } } },
  { field: "firmware.secureBoot", title: "secure boot", spec: { ...BASE_VM, firmware: { type: "uefi", secureBoot: true } } },
  { field: "firmware.tpm", title: "a TPM", spec: { ...BASE_VM, firmware: { type: "uefi", tpm: true } } },
  { field: "cloudInit", title: "cloud-init user data", spec: { ...BASE_VM, cloudInit: { userData: "#cloud-config\n" } } },
  { field: "cloudInit.networkConfig", title: "cloud-init network config", spec: { ...BASE_VM, cloudInit: { userData: "#cloud-config\n", networkConfig: "version: 2\n" } } },
  {
    field: "cloudInit.user",
    title: "cloud-init user, SSH keys and addresses as fields",
    spec: { ...BASE_VM, cloudInit: { user: { name: "ops" }, sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ops"], ipConfig: { net0: { ipv4: "dhcp" } } } },
  },
  { field: "kernelBoot", title: "direct kernel boot", spec: { ...BASE_VM, kernelBoot: { kernel: "/srv/vmlinuz" } } },
  { field: "cloneFrom", title: "clone from a template", spec: { ...BASE_VM, cloneFrom: { template: "debian-12-template" } } },
  {
    field: "restoreFrom",
    title: "created from a backup archive",
    spec: { ...BASE_VM, restoreFrom: "local:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst" },
  },
  { field: "console", title: "a VNC console", spec: { ...BASE_VM, console: { kind: "vnc" } } },
  { field: "powerState", title: "paused (suspended)", spec: { ...BASE_VM, powerState: "paused" } },
  { field: "labels", title: "labels", spec: { ...BASE_VM, labels: { team: "infra" } } },
];

/** A change a program makes: the VM before (on top of BASE_VM) and after. */
export interface ChangeCase {
  id: string;
  title: string;
  before: Spec;
  after: Spec;
  /** Another host entry of the same kind, for a host change (`<kind>-b`). */
  moves?: true;
}

const cpuCeiling: Spec = { cpu: { cores: 2, maxVcpus: 8 } };
const memoryCeiling: Spec = { memory: { sizeMiB: 1024, maxMiB: 4096 } };
const vm = (patch: Spec): Spec => ({ ...BASE_VM, ...patch });

export const CHANGE_CASES: ChangeCase[] = [
  { id: "cpu-up", title: "vCPUs up within cpu.maxVcpus (cores 2 → 4)", before: vm(cpuCeiling), after: vm({ cpu: { cores: 4, maxVcpus: 8 } }) },
  { id: "cpu-down", title: "vCPUs down within cpu.maxVcpus (cores 4 → 2)", before: vm({ cpu: { cores: 4, maxVcpus: 8 } }), after: vm(cpuCeiling) },
  { id: "cpu-past-ceiling", title: "vCPUs up past the ceiling (no cpu.maxVcpus)", before: vm({}), after: vm({ cpu: { cores: 4 } }) },
  { id: "memory-up", title: "memory up within memory.maxMiB", before: vm(memoryCeiling), after: vm({ memory: { sizeMiB: 2048, maxMiB: 4096 } }) },
  { id: "memory-down", title: "memory down within memory.maxMiB", before: vm({ memory: { sizeMiB: 2048, maxMiB: 4096 } }), after: vm(memoryCeiling) },
  { id: "memory-past-ceiling", title: "memory up past the ceiling (no memory.maxMiB)", before: vm({}), after: vm({ memory: { sizeMiB: 2048 } }) },
  {
    id: "disk-add",
    title: "a disk added",
    before: vm({}),
    after: vm({ disks: { ...(BASE_VM.disks as Spec), scsi1: { pool: "pool0", sizeGiB: 1 } } }),
  },
  { id: "disk-resize", title: "a disk grown", before: vm({}), after: vm({ disks: { scsi0: { pool: "pool0", sizeGiB: 2 } } }) },
  { id: "disk-remove", title: "a disk removed", before: vm({ disks: { ...(BASE_VM.disks as Spec), scsi1: { pool: "pool0", sizeGiB: 1 } } }), after: vm({}) },
  { id: "nic-add", title: "a NIC added", before: vm({}), after: vm({ nics: { ...(BASE_VM.nics as Spec), net1: { network: "net0" } } }) },
  { id: "nic-remove", title: "a NIC removed", before: vm({ nics: { ...(BASE_VM.nics as Spec), net1: { network: "net0" } } }), after: vm({}) },
  { id: "nic-network", title: "a NIC moved to another network", before: vm({}), after: vm({ nics: { net0: { network: "net1" } } }) },
  { id: "power-stop", title: "stop", before: vm({}), after: vm({ powerState: "stopped" }) },
  { id: "power-start", title: "start", before: vm({ powerState: "stopped" }), after: vm({}) },
  { id: "labels", title: "a label changed", before: vm({}), after: vm({ labels: { team: "web" } }) },
  { id: "host-move", title: "host change within a kind (running VM)", before: vm({}), after: vm({}), moves: true },
  { id: "rename", title: "the VM renamed", before: vm({}), after: vm({ name: "nc-parity-renamed" }) },
];
