/**
 * NovaCron: virtual machines, storage, networks, passthrough devices and snapshots on KVM/QEMU,
 * vSphere, Proxmox VE, Hyper-V and XCP-ng from one description.
 */
export { VirtualMachine, StoragePool, Volume, Network, PassthroughDevice, Snapshot, Container, Backup, type ResourceArgs } from "./resources";
export { getDriverCapabilities, getHostCapabilities, getVmMetrics } from "./functions";
// Written out from the model by `npm run model-types`, so these declarations import no zod.
export type { HypervisorCapabilities, Support, HostCapabilities, VmMetrics, Disruption, DriverKind } from "./model-types";
export type { VirtualMachineSpec, StoragePoolSpec, VolumeSpec, NetworkSpec, PassthroughDeviceSpec, SnapshotSpec, ContainerSpec, BackupSpec } from "./model-types";
export type { VirtualMachineArgs, StoragePoolArgs, VolumeArgs, NetworkArgs, PassthroughDeviceArgs, SnapshotArgs, ContainerArgs, BackupArgs } from "./model-types";
