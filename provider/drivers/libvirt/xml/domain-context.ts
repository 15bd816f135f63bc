import type { VolumeFormat } from "../../../core/model";
import type { PreservedParts } from "./domain-preserve";
import type { Ownership } from "./metadata";

/** A drive address as libvirt writes it for IDE, SATA, SCSI and USB disks; `on` is the target bus. */
export interface DriveAddress {
  on: string;
  controller: number;
  bus: number;
  target: number;
  unit: number;
}

/** `kvm` needs /dev/kvm on the host; `qemu` is plain TCG emulation. */
export type DomainType = "kvm" | "qemu";

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

/** Where a disk slot's bytes live, resolved by the driver from the model's volume ids. */
export type DiskSource =
  | { kind: "file"; path: string; format?: VolumeFormat }
  | { kind: "block"; dev: string; format?: VolumeFormat }
  | { kind: "volume"; pool: string; volume: string; format?: VolumeFormat };

/** A PassthroughDevice resolved to what libvirt addresses. */
export type PassthroughSource = { kind: "pci"; address: PciAddress; managed?: boolean } | { kind: "usb"; vendorId: number; productId: number; managed?: boolean };

export interface DomainBuildContext {
  type: DomainType;
  /** Defaults to libvirt's own choice of emulator binary. */
  emulator?: string;
  /** Defaults to x86_64. */
  arch?: string;
  /** Keeps a redefined domain's identity. */
  uuid?: string;
  /** Disk slot → resolved source; every slot in spec.disks needs one. */
  disks: Record<string, DiskSource>;
  /** NIC slot → libvirt network name, when it differs from the spec's `network`/`sriovPool` value (a resource id). */
  networks?: Record<string, string>;
  /** NIC slot → MAC to use when the spec has none (e.g. one libvirt generated earlier, kept stable). */
  macs?: Record<string, string>;
  /** PassthroughDevice id (the spec's `device`) → host address. */
  passthrough?: Record<string, PassthroughSource>;
  /** The NoCloud seed ISO on the host; required when spec.cloudInit is set. */
  cloudInitSeed?: string;
  /** The key of the seed's instance-id, kept in our metadata so the id stays stable across updates. */
  seedSalt?: string;
  /** Explicit UEFI images; without them libvirt's firmware autoselection (`<os firmware='efi'>`) picks one. */
  uefi?: { loader: string; nvram?: string; nvramTemplate?: string };
  /** Direct kernel boot, bypassing firmware boot from disk. */
  boot?: { kernel: string; initrd?: string; cmdline?: string };
  ownership: Ownership;
  /** virtio-scsi request queues per controller; defaults to the boot vCPU count (one queue per vCPU). */
  scsiQueues?: number;
  /**
   * Empty PCIe root ports to add on q35 machines: libvirt only adds ports for the devices present,
   * and a hotplugged disk or NIC needs a free one. Defaults to 4.
   */
  hotplugRootPorts?: number;
  /** The parts of the domain on the host that the model does not manage: written back untouched. */
  preserved?: PreservedParts;
  /** Slot → the drive address its disk has on the host, kept so a re-define moves no disk. */
  driveAddresses?: Record<string, DriveAddress>;
}
