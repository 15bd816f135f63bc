import type { DriverKind } from "./hosts";
import type { InputFailure } from "./errors";
import type { CpuMode, DiskBus, NicModel, NetworkMode, PassthroughKind, PoolKind, ResourceKind, SpecOf, VolumeFormat } from "./model";
import type { Disruption } from "./disruption";

/** A feature is either supported, or not, with the hypervisor's own reason in words a user can act on. */
export type Support = true | { unsupported: string };

export function no(reason: string): Support {
  return { unsupported: reason };
}

/** How a driver classifies a field: one answer, or one for growing and one for shrinking a number. */
export type ChangeRule = { disruption: Disruption; why: string } | { grow: { disruption: Disruption; why: string }; shrink: { disruption: Disruption; why: string } };

/**
 * What one kind of hypervisor can do, known without contacting any host, so `pulumi preview`
 * can refuse a spec the target cannot satisfy. Live host facts (CPUs present, devices, NUMA
 * nodes) come from `Driver.hostCapabilities()` at apply time.
 */
export interface HypervisorCapabilities {
  driver: DriverKind;
  /** Product name used in messages, e.g. "Hyper-V". */
  product: string;
  liveMigration: Support;
  storageMigration: Support;
  cpuPinning: Support;
  emulatorPinning: Support;
  numa: Support;
  hugepages: Support;
  hugepageSizesKiB: number[];
  ballooning: Support;
  gpuPassthrough: Support;
  pciPassthrough: Support;
  usbPassthrough: Support;
  sriov: Support;
  uefi: Support;
  secureBoot: Support;
  tpm: Support;
  snapshots: Support;
  memorySnapshots: Support;
  quiesceSnapshots: Support;
  /** Rolling a guest back to a snapshot (`Snapshot.rollbackOn`). */
  snapshotRollback: Support;
  cloudInit: Support;
  /**
   * Cloud-init given as fields (`cloudInit.user`, `sshKeys`, `ipConfig`) rather than documents.
   * Absent: the driver takes only userData/metaData/networkConfig.
   */
  structuredCloudInit?: Support;
  /** Creating a VM as a clone of a template (`cloneFrom`). Absent: not supported by this driver. */
  templateClones?: Support;
  /** Booting a kernel/initrd from the host's file system (`kernelBoot`). */
  kernelBoot: Support;
  /** System containers (the `Container` kind: LXC on Proxmox VE). */
  containers: Support;
  /** Backup archives of a guest on a storage (the `Backup` kind), restorable as a new guest. */
  backups: Support;
  hotplug: { cpu: Support; memory: Support; disk: Support; nic: Support };
  /** Buses that can take a disk while the guest runs. */
  hotplugDiskBuses: DiskBus[];
  cpuModes: CpuMode[];
  diskBuses: DiskBus[];
  nicModels: NicModel[];
  consoles: ("none" | "vnc" | "spice")[];
  volumeFormats: VolumeFormat[];
  poolKinds: PoolKind[];
  networkModes: NetworkMode[];
  passthroughKinds: PassthroughKind[];
  /**
   * Moving a VM that holds passthrough devices to another host. Absent: the migration rules alone
   * decide; unsupported: check() refuses such a host change with this reason.
   */
  passthroughMigration?: Support;
  limits: { maxVcpus: number; maxMemoryMiB: number; maxConcurrentVms: number; maxDisks: number; maxNics: number };
  /**
   * Where a fixed NIC MAC address (`nics.*.mac`) must fall, inclusive, lower-case; absent when the
   * hypervisor takes any unicast address. `why` says whose rule it is.
   */
  fixedMacRange?: { first: string; last: string; why: string };
  /** Notes on how the neutral model maps onto this hypervisor, e.g. "virtio NIC → vmxnet3". */
  features: string[];
  /**
   * Where this hypervisor's rules differ from the neutral classification: a field path pattern
   * (`*` for a slot) → the disruption a change of it causes here, and why. VM patterns are bare;
   * other kinds prefix theirs with the kind, e.g. `Network:vlan`.
   */
  changeRules: Record<string, ChangeRule>;
  /**
   * The driver's translation rules that need no host (combinations its API or XML refuses),
   * run by check() after the table above so `pulumi preview` reports them instead of `up`
   * failing half-way. Pure: no I/O, never throws.
   */
  translationProblems?<K extends ResourceKind>(kind: K, spec: SpecOf<K>): InputFailure[];
}
