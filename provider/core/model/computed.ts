import type { ResourceKind } from "./index";

/**
 * Outputs each kind reports beyond its inputs; never read back as inputs. Kept apart from the
 * schemas so the sdk can declare resources without loading zod in the program's process.
 */
export const COMPUTED_OUTPUTS: Record<ResourceKind, readonly string[]> = {
  VirtualMachine: ["state", "uuid", "hostId", "ipAddress", "macAddresses", "lastChange", "lastChangeClass", "migration", "unmanaged"],
  StoragePool: ["state", "uuid", "capacityBytes", "running"],
  Volume: ["path", "capacityBytes"],
  Network: ["state", "uuid", "bridgeName"],
  PassthroughDevice: ["observed"],
  Snapshot: ["state"],
  Container: ["state", "macAddresses", "lastChange", "lastChangeClass"],
  Backup: ["state", "archive", "sizeBytes", "createdAt"],
};
