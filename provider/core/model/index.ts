import type { z } from "zod";
import { VirtualMachineInputs, VM_SECRET_FIELDS } from "./vm";
import { StoragePoolInputs, VolumeInputs } from "./storage";
import { NetworkInputs } from "./network";
import { PassthroughDeviceInputs } from "./passthrough";
import { SnapshotInputs } from "./snapshot";
import { ContainerInputs } from "./container";
import { BackupInputs } from "./backup";

export * from "./common";
export * from "./vm";
export * from "./storage";
export * from "./network";
export * from "./passthrough";
export * from "./snapshot";
export * from "./container";
export * from "./backup";

interface ResourceModel {
  schema: z.ZodType;
  description: string;
  /** Dotted input paths that hold secrets. */
  secrets: readonly string[];
}

/** Every resource kind NovaCron manages, with its schema: the one source for check(), sdk types and schema.json. */
export const RESOURCE_MODELS = {
  VirtualMachine: {
    schema: VirtualMachineInputs,
    description: "A virtual machine, described once and placed on any configured host.",
    secrets: VM_SECRET_FIELDS,
  },
  StoragePool: { schema: StoragePoolInputs, description: "A storage pool (libvirt pool, vSphere datastore).", secrets: [] },
  Volume: { schema: VolumeInputs, description: "A disk volume in a storage pool.", secrets: [] },
  Network: { schema: NetworkInputs, description: "A virtual network (NAT, routed, isolated, bridge or SR-IOV pool).", secrets: [] },
  PassthroughDevice: { schema: PassthroughDeviceInputs, description: "A host PCI/GPU/USB device reserved for passthrough.", secrets: [] },
  Snapshot: { schema: SnapshotInputs, description: "A point-in-time snapshot of a VM or container, with or without memory.", secrets: [] },
  Container: { schema: ContainerInputs, description: "A system container (LXC): root file system, mount points, NICs, features.", secrets: [] },
  Backup: { schema: BackupInputs, description: "A backup archive of a VM or container on a storage, with retention; restore by creating a guest from its archive.", secrets: [] },
} as const satisfies Record<string, ResourceModel>;

export type ResourceKind = keyof typeof RESOURCE_MODELS;

export { COMPUTED_OUTPUTS } from "./computed";
export const RESOURCE_KINDS = Object.keys(RESOURCE_MODELS) as ResourceKind[];
export type SpecOf<K extends ResourceKind> = z.output<(typeof RESOURCE_MODELS)[K]["schema"]>;
export type ArgsOf<K extends ResourceKind> = z.input<(typeof RESOURCE_MODELS)[K]["schema"]>;
