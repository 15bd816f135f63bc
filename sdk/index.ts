/**
 * NovaCron: virtual machines, storage, networks, passthrough devices and snapshots on KVM/QEMU,
 * vSphere, Proxmox VE, Hyper-V and XCP-ng from one description.
 */
export { VirtualMachine, StoragePool, Volume, Network, PassthroughDevice, Snapshot, type ResourceArgs } from "./resources";
export { getDriverCapabilities, getHostCapabilities, getVmMetrics } from "./functions";
export type { HypervisorCapabilities, Support } from "../provider/core/capabilities";
export type { HostCapabilities, VmMetrics } from "../provider/core/driver";
export type { Disruption } from "../provider/core/disruption";
export type { VirtualMachineSpec, StoragePoolSpec, VolumeSpec, NetworkSpec, PassthroughDeviceSpec, SnapshotSpec } from "../provider/core/model";
