import type { InputFailure } from "../../core/errors";
import type {
  BackupSpec,
  ContainerSpec,
  NetworkSpec,
  PassthroughDeviceSpec,
  VolumeSpec,
  ResourceKind,
  SnapshotSpec,
  SpecOf,
  StoragePoolSpec,
  VirtualMachineSpec,
} from "../../core/model";
import { snapshotProblems } from "./resources/snapshot";
import { storageProblems } from "./resources/storage";
import { vmProblems } from "./vm/translate";
import { containerProblems } from "./container/translate";
import { backupProblems } from "./resources/backup";
import { volumeProblems } from "./resources/volume";
import { networkProblems } from "./resources/network";
import { passthroughProblems } from "./resources/passthrough";

/**
 * What the Proxmox translation refuses, found at check() time so `pulumi preview` reports it.
 * A module of its own so the capability table can name it without importing the client.
 */
export function proxmoxTranslationProblems<K extends ResourceKind>(kind: K, spec: SpecOf<K>): InputFailure[] {
  if (kind === "VirtualMachine") return vmProblems(spec as VirtualMachineSpec);
  if (kind === "Snapshot") return snapshotProblems(spec as SnapshotSpec);
  if (kind === "StoragePool") return storageProblems(spec as StoragePoolSpec);
  if (kind === "Container") return containerProblems(spec as ContainerSpec);
  if (kind === "Backup") return backupProblems(spec as BackupSpec);
  if (kind === "Volume") return volumeProblems(spec as VolumeSpec);
  if (kind === "Network") return networkProblems(spec as NetworkSpec);
  if (kind === "PassthroughDevice") return passthroughProblems(spec as PassthroughDeviceSpec);
  return [
    {
      property: "host",
      reason: `NovaCron's Proxmox driver manages VirtualMachine, Container, Backup, Snapshot, Volume, StoragePool, Network (bridge) and PassthroughDevice (PCI mapping) resources; ${kind} is not available on a proxmox host`,
    },
  ];
}
