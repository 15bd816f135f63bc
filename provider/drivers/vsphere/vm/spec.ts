// The plain, hypervisor-shaped description of a vSphere VM that this layer
// accepts and reports back (refresh/drift). It stays free of wire types except
// MoRef, so the model translation above it can be written and tested against
// plain objects.
import type { MoRef } from "../soap";

export type DiskProvisioning = "thin" | "thick" | "eagerZeroedThick";
export type ScsiControllerType = "pvscsi" | "lsilogic-sas";
export type NicAdapter = "vmxnet3" | "e1000e" | "e1000" | "vmxnet2";
export type Firmware = "bios" | "efi";

export interface DiskSpec {
  /** Capacity of a new disk; for `file`, its size when known (0: vCenter reads it from the file). */
  readonly sizeGiB: number;
  /** Default "thin". Only takes effect when the disk is created. */
  readonly provisioning?: DiskProvisioning;
  /**
   * An existing VMDK, "[datastore] dir/name.vmdk", attached as it is. Disks
   * outside the VM's own folder are detached, never deleted, when the slot or
   * the VM goes.
   */
  readonly file?: string;
}

/** Where a NIC is plugged; from resolveNetwork() or read back from a VM. */
export type NetworkBinding =
  | { readonly kind: "standard"; readonly network: MoRef; readonly name: string }
  | { readonly kind: "distributed"; readonly portgroupKey: string; readonly switchUuid: string; readonly network?: MoRef };

export interface NicSpec {
  readonly network: NetworkBinding;
  /** Default "vmxnet3". */
  readonly adapter?: NicAdapter;
  /** A manual (fixed) address, lower-case; undefined lets vCenter generate one. */
  readonly macAddress?: string;
}

/** A host PCI device given to the VM (DirectPath I/O); the values are the host's, from listHostPciDevices(). */
export interface PciPassthroughSpec {
  readonly kind?: "pci";
  /** PCI address on the host, "0000:3b:00.0". */
  readonly id: string;
  /** Lower-case hex, as the host lists them ("15ad"). */
  readonly vendorId: string;
  readonly deviceId: string;
  /** The ESXi host's system id for the device (from QueryConfigTarget). */
  readonly systemId: string;
  readonly deviceName: string;
}

/** A host USB device given to the VM (VirtualUSB with a local host backing), from listHostUsbDevices(). */
export interface UsbPassthroughSpec {
  readonly kind: "usb";
  /** "usb:" and the port path: what the slot's extraConfig record holds. */
  readonly id: string;
  /** The port path on the host, "1/0/1". */
  readonly path: string;
  /** Lower-case hex, four digits. */
  readonly vendorId: string;
  readonly productId: string;
}

export type PassthroughSpec = PciPassthroughSpec | UsbPassthroughSpec;

/** A CD/DVD drive at a controller position; the slot name follows from it (cdrom.ts). */
export interface CdromSpec {
  readonly controller: "ide" | "sata";
  readonly bus: number;
  readonly unit: number;
  /** "[datastore] path.iso"; undefined for an empty drive. */
  readonly iso?: string;
}

/**
 * A device in the boot order, by slot: vSphere's boot order names devices by the keys vCenter
 * gives them, which a device added in the same change does not have yet.
 */
export interface BootDevice {
  readonly kind: "disk" | "nic";
  readonly slot: string;
}

export interface CloudInit {
  /** Plain text; sent base64-encoded as guestinfo.userdata. */
  readonly userData?: string;
  readonly metaData?: string;
}

export interface VmSpec {
  readonly name: string;
  /** vSphere guest OS identifier. Default "otherGuest64". */
  readonly guestId?: string;
  readonly numCPUs: number;
  readonly numCoresPerSocket?: number;
  readonly memoryMB: number;
  readonly cpuHotAddEnabled?: boolean;
  readonly memoryHotAddEnabled?: boolean;
  readonly cpuReservationMHz?: number;
  readonly memoryReservationMB?: number;
  /** Default "pvscsi". */
  readonly scsiController?: ScsiControllerType;
  /** Keyed by slot name: the slot, not the position, identifies a disk, so reordering never replaces one. */
  readonly disks: Readonly<Record<string, DiskSpec>>;
  readonly nics: Readonly<Record<string, NicSpec>>;
  /** PCI and USB passthrough devices by slot (hostdev0…), recorded in extraConfig `novacron.hostdev.<slot>`. */
  readonly passthrough?: Readonly<Record<string, PassthroughSpec>>;
  /** vSphere requires it for PCI passthrough: all memory reserved, following the size. */
  readonly memoryReservationLockedToMax?: boolean;
  /** Default "bios". */
  readonly firmware?: Firmware;
  readonly secureBoot?: boolean;
  /** Disks and NICs the firmware tries, first to last (bootOptions.bootOrder); empty: vSphere's default order. */
  readonly bootOrder?: readonly BootDevice[];
  /** CD/DVD drives by model slot (hda-hdd on IDE, sataN on SATA). */
  readonly cdroms?: Readonly<Record<string, CdromSpec>>;
  /** A virtual TPM device (VirtualTPM); vCenter needs a key provider to add one. */
  readonly tpm?: boolean;
  /** Host CPUs the VM's vCPUs may run on (cpuAffinity.affinitySet); undefined for no restriction. */
  readonly cpuAffinity?: readonly number[];
  readonly cloudInit?: CloudInit;
  readonly annotation?: string;
  /**
   * A folder of the datastore that exists already, for the VM's own files (create only): a
   * cross-hypervisor move imported the disks into it. Unset: vCenter makes one named after the VM.
   */
  readonly folder?: string;
  /** Written to extraConfig `novacron.owner`: the mark that NovaCron made (and may adopt) this VM. */
  readonly owner?: string;
  /** Free-form key/values, each its own extraConfig entry `novacron.label.<key>`. */
  readonly labels?: Readonly<Record<string, string>>;
}

export type PowerState = "poweredOn" | "poweredOff" | "suspended";

export interface SnapshotInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly description: string;
  readonly createTime: string;
  readonly quiesced: boolean;
  /** Names from the root down to this snapshot's parent. */
  readonly parents: readonly string[];
}

/** What refresh sees: the spec as the server has it plus runtime facts. */
export interface VmState {
  readonly ref: MoRef;
  readonly spec: VmSpec;
  readonly powerState: PowerState;
  readonly host: MoRef | undefined;
  readonly resourcePool: MoRef | undefined;
  readonly datastores: readonly MoRef[];
  readonly template: boolean;
  readonly toolsRunning: boolean;
  readonly instanceUuid: string | undefined;
  readonly snapshots: readonly SnapshotInfo[];
  /** The guest's primary address as VMware Tools report it. */
  readonly ipAddress: string | undefined;
  /** Slot → the VMDK backing the disk, "[datastore] dir/name.vmdk". */
  readonly diskFiles: Readonly<Record<string, string>>;
  /** Slot → MAC address the server assigned. */
  readonly macAddresses: Readonly<Record<string, string>>;
  /** Devices NovaCron does not manage (CD-ROMs, serial ports, NICs on networks it cannot name …): left as they are. */
  readonly unmanaged?: readonly string[];
}
