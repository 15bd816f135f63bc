import type { CpuMode, DiskBus } from "../../../core/model";
import type { PciAddress } from "./domain-context";
import type { XmlNode } from "./dom";
import type { PreservedParts } from "./domain-preserve";
import type { ParsedOwnership } from "./metadata";

/** Where a disk's bytes live, as the domain XML says. */
export type ParsedDiskSource =
  | { kind: "file"; path: string }
  | { kind: "block"; dev: string }
  | { kind: "volume"; pool: string; volume: string }
  /** Network disks, empty drives and anything else: the libvirt disk type only. */
  | { kind: "other"; type: string };

export interface ParsedDisk {
  /** A model bus, or libvirt's own bus name (ide, usb, an lsilogic "scsi") when the model has none for it. */
  bus: DiskBus | string;
  targetDev: string;
  format?: string;
  cache?: string;
  io?: string;
  discard?: string;
  detectZeroes?: string;
  iothread?: number;
  bootOrder?: number;
  readOnly: boolean;
  source: ParsedDiskSource;
  /** The drive address the host gave it (IDE, SATA, SCSI, USB), kept across re-defines. */
  address?: { controller: number; bus: number; target: number; unit: number };
}

export interface ParsedCdrom {
  bus?: string;
  /** The image in the drive; undefined for an empty drive. */
  path?: string;
  bootOrder?: number;
  address?: { controller: number; bus: number; target: number; unit: number };
  /** Why the model cannot manage this drive (a floppy, a network source …); undefined when it can. */
  unmanageable?: string;
  /** The element as found, for preserving it. */
  node?: XmlNode;
}

export interface ParsedNic {
  /** Libvirt's interface type: network, bridge, direct, hostdev, user … */
  type: string;
  /** Undefined for a VF (no emulated model) and where libvirt picks its default. */
  model?: string;
  mac?: string;
  queues: number;
  network?: string;
  bridge?: string;
  sriovPool?: string;
  direct?: { device: string; mode: string };
  ethernet?: { tap?: string };
  vlan?: number;
  bootOrder?: number;
}

export type ParsedHostdev =
  | { kind: "pci"; address: PciAddress; managed: boolean; romBar: boolean }
  | { kind: "usb"; vendorId?: number; productId?: number; managed: boolean; romBar: boolean };

export interface ParsedCpu {
  sockets: number;
  cores: number;
  threads: number;
  maxVcpus?: number;
  mode: CpuMode;
  /** Undefined with mode custom means the hypervisor's default model. */
  model?: string;
  pinning?: Record<string, string>;
  emulatorPinning?: string;
  numa?: { vcpus: string; memoryMiB: number; hostNode?: number }[];
}

export interface ParsedMemory {
  sizeMiB: number;
  maxMiB?: number;
  hugepages?: { pageSizeKiB: number };
  balloon?: { statsPeriodSeconds: number };
}

/** A domain read back into the model's VM shape, plus the facts the model does not carry. */
export interface ParsedDomain {
  name: string;
  uuid?: string;
  /** Libvirt domain type: kvm, qemu, test … */
  type: string;
  /** Machine family (q35, pc) so `q35` and libvirt's expanded `pc-q35-7.2` compare equal. */
  machine: string;
  /** The exact machine type libvirt recorded. */
  machineType?: string;
  arch?: string;
  emulator?: string;
  cpu: ParsedCpu;
  /** Raw vCPU counts: `current` is what boots, `max` the hot-add ceiling. */
  vcpus: { current: number; max: number };
  memory: ParsedMemory;
  /** Keyed by model slot (see slots.ts); foreign target names are kept as keys. */
  disks: Record<string, ParsedDisk>;
  /** CD-ROM drives the model manages, keyed by slot (our cloud-init seed is not among them). */
  cdroms: Record<string, ParsedCdrom>;
  /** The seed ISO path when this is our domain and it has one. */
  cloudInitSeed?: string;
  /** The key of the seed's instance-id (our metadata); absent on VMs made before salts existed. */
  seedSalt?: string;
  nics: Record<string, ParsedNic>;
  macs: Record<string, string>;
  passthrough: Record<string, ParsedHostdev>;
  firmware: { type: "bios" | "uefi"; secureBoot: boolean; tpm: boolean; loader?: string; nvram?: string };
  /** The password is a secret: callers must never log this object whole. */
  console: { kind: "none" | "vnc" | "spice"; listen?: string; password?: string };
  serialConsole: boolean;
  boot?: { kernel: string; initrd?: string; cmdline?: string };
  labels: Record<string, string>;
  ownership: ParsedOwnership;
  /** What the model does not manage: carried through every re-define untouched (domain-preserve.ts). */
  preserved: PreservedParts;
}
