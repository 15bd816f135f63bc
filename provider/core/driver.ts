import type { HypervisorCapabilities } from "./capabilities";
import type { ChangePlan } from "./classify";
import type { DiskLocation, DiskTransfer } from "./disk-transfer";
import type { DriverKind, HostConfig, Hosts } from "./hosts";
import type { ResourceKind, SpecOf } from "./model";

/** Called with short human lines during long operations (shown by the provider host). */
export type Progress = (message: string) => void;

export interface OperationContext {
  progress: Progress;
  /** Epoch milliseconds by which the operation must give up: Pulumi's customTimeouts do not reach dynamic providers. */
  deadline: number;
  /** Opens the driver of another configured host (same kind), e.g. the target of a migration. */
  connect(host: string): Promise<Driver>;
  /**
   * A VM create during a cross-hypervisor move: these slots attach the disk already imported
   * there (named by `CrossMoveSupport.importedDiskName`) instead of making a blank one.
   */
  importedDisks?: Readonly<Record<string, DiskLocation>>;
}

/**
 * What a driver adds for a cross-hypervisor move (core/cross-move-task.ts), besides its disk
 * data path: the names under which its VM create adopts an imported disk and its VM delete
 * removes it again, and a way to find such a disk after a crash lost its location.
 */
export interface CrossMoveSupport {
  /** The file name (inside a pool or datastore) an imported disk of `slot` gets. */
  importedDiskName(vm: string, slot: string): string;
  /**
   * The disk `name` in `pool` (a leftover of an interrupted import): undefined when it is surely
   * absent; a driver that cannot tell returns its location (removeDisk tolerates "already gone").
   */
  locateDisk(pool: string, name: string): Promise<DiskLocation | undefined>;
}

/** What a refresh may consult besides the object itself: it runs outside any operation. */
export interface ReadContext {
  /** Every configured host entry by name. Holds credentials: never copy an entry into outputs. */
  readonly hosts: Readonly<Hosts>;
}

/** A resource as the hypervisor has it. */
export interface Observed<Spec> {
  id: string;
  /** The spec read back from the hypervisor, for refresh and drift detection. */
  spec: Spec;
  /** Computed outputs (state, addresses, measured figures). */
  outputs: Record<string, unknown>;
  /** True when NovaCron's ownership tag is on it: only then may create adopt it after a crash. */
  owned: boolean;
}

/** The operations one hypervisor offers for one resource kind. */
export interface ResourceDriver<Spec> {
  /** Looks the object up by the identity in `spec` (its name); undefined when absent. */
  find(spec: Spec): Promise<Observed<Spec> | undefined>;
  create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>>;
  /**
   * Reads by id; `last` is the spec recorded in state, for fields the hypervisor cannot report.
   * `ctx` lets a driver report another entry of its own as `host` (a VM moved outside Pulumi).
   */
  read(id: string, last: Spec, ctx?: ReadContext): Promise<Observed<Spec> | undefined>;
  update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>>;
  /** Must succeed when the object is already gone. */
  delete(id: string, spec: Spec, ctx: OperationContext): Promise<void>;
}

/** What a live host reports about itself, beyond its kind's static capabilities. */
export interface HostCapabilities {
  host: string;
  driver: DriverKind;
  hypervisor: string;
  version: string;
  cpus: number;
  memoryMiB: number;
  numaNodes: { id: number; cpus: number[]; memoryMiB: number }[];
  hugepages: { sizeKiB: number; total: number; free: number }[];
  devices: { name: string; address?: string; vendor?: string; product?: string; class?: string; iommuGroup?: number; driver?: string }[];
  capabilities: HypervisorCapabilities;
}

/** Cumulative per-VM counters for a metrics collector; rates come from two polls. */
export interface VmMetrics {
  name: string;
  uuid: string;
  /** The hypervisor's state number (libvirt: 1 running, 3 paused, 5 shut off). */
  state: number;
  cpuTimeNs: number;
  cpuUserNs?: number;
  cpuSystemNs?: number;
  vcpus: { id: number; state: number; timeNs: number }[];
  /** Sizes in KiB; the guest-reported ones (available, unused, usable) only with a balloon driver in the guest. */
  balloon: { currentKiB?: number; maximumKiB?: number; availableKiB?: number; unusedKiB?: number; usableKiB?: number; rssKiB?: number; lastUpdate?: number };
  disks: { name: string; path?: string; readBytes: number; writeBytes: number; readRequests: number; writeRequests: number; capacityBytes?: number; allocationBytes?: number }[];
  /** `name` is the host-side device (the tap, e.g. vnet3); counters are from the guest's point of view. */
  nics: { name: string; rxBytes: number; txBytes: number; rxPackets: number; txPackets: number; rxDrops: number; txDrops: number }[];
}

export interface Driver {
  readonly kind: DriverKind;
  readonly host: string;
  readonly config: HostConfig;
  /**
   * A VM's id names it on every host of this kind (libvirt's UUIDs, unlike vSphere's
   * per-vCenter object ids), so a VM missing from its recorded host may be looked up on the
   * others: it was moved outside Pulumi, not deleted.
   */
  readonly vmIdsAreGlobal?: boolean;
  hostCapabilities(): Promise<HostCapabilities>;
  /** The operations for one resource kind, or undefined where this hypervisor has no such object. */
  resource<K extends ResourceKind>(kind: K): ResourceDriver<SpecOf<K>> | undefined;
  /** Counters of every VM on the host in one call, where the hypervisor offers them. */
  collectMetrics?(): Promise<VmMetrics[]>;
  /** Naming and lookup of imported disks, where this driver can take part in a cross-hypervisor move. */
  crossMove?(): CrossMoveSupport;
  /**
   * This host's disk data path for a cross-hypervisor move (read a stopped VM's disks out,
   * write disks in), where the driver has one. Core reaches it here and never imports a driver.
   */
  diskTransfer?(): DiskTransfer;
  close(): Promise<void>;
}
