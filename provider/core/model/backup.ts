import { z } from "zod";
import { HostRef } from "./common";

/**
 * A backup of one guest (a VirtualMachine or a Container) written to a storage as an archive.
 * It is a point in time: every change makes a new backup. Restoring is a create of a guest
 * with the archive as its source (`Container.restoreFrom`).
 */
export const BackupInputs = z.strictObject({
  host: HostRef,
  guest: z.string().min(1).describe("Id of the VirtualMachine or Container to back up."),
  storage: z.string().min(1).describe("Storage that takes backup archives, e.g. `local`."),
  mode: z.enum(["snapshot", "suspend", "stop"]).default("snapshot").describe("How the running guest is held while it is read."),
  compress: z.enum(["zstd", "gzip", "lzo", "none"]).default("zstd"),
  retention: z
    .strictObject({
      keepLast: z.int().min(1).max(10000).optional(),
      keepDaily: z.int().min(1).max(10000).optional(),
      keepWeekly: z.int().min(1).max(10000).optional(),
      keepMonthly: z.int().min(1).max(10000).optional(),
      keepYearly: z.int().min(1).max(10000).optional(),
    })
    .optional()
    .describe("Older archives of the same guest on the storage pruned after this backup; unset keeps the storage's own rule."),
  notes: z.string().max(1024).default("").describe("A note kept with the archive."),
  protected: z.boolean().default(false).describe("Protect the archive from pruning and removal."),
  keepOnDestroy: z.boolean().default(false).describe("Leave the archive on the storage when the resource is destroyed."),
});
export type BackupSpec = z.output<typeof BackupInputs>;
export type BackupArgs = z.input<typeof BackupInputs>;
