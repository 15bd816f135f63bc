// VM operations for the vSphere driver, over the vim25 client in ../soap.
export * from "./spec";
export { createVm, findVm, reconfigureVm, destroyVm, type DestroyOptions, type DestroyOutcome } from "./lifecycle";
export { readVm, readVmDetails, type VmDetails } from "./read";
export { powerOn, powerOff, suspend, shutdownGuest, powerState, type ShutdownOptions } from "./power";
export { relocateVm, cloneVm, markAsTemplate, markAsVirtualMachine, type RelocateTarget, type CloneOptions } from "./migrate";
export { createSnapshot, removeSnapshot, revertToSnapshot, type SnapshotSpec } from "./snapshot";
export { resolvePlacement, resolveNetwork, type Placement, type PlacementInput } from "./placement";
export { getHostCapabilities, type HostCapabilities } from "./host";
export { createConfigSpec } from "./config-spec";
export { listHostPciDevices, type HostPciDevice } from "./pci";
export { parseVm } from "./read";
export { reconfigureSpec, UnsupportedChangeError, type CurrentConfig } from "./reconfigure-spec";
export { readHostNetworking, addStandardPortgroup, updateStandardPortgroup, removeStandardPortgroup, type HostNetworking, type StandardPortgroup } from "./host-network";
