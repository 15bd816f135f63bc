import { z } from "zod";
import { Adopt, DeleteOnDestroy, HostRef, ObjectName } from "./common";

export const SnapshotInputs = z.strictObject({
  host: HostRef,
  vm: z.string().min(1).describe("Id of the VirtualMachine (or, on Proxmox VE, the Container) to snapshot."),
  name: ObjectName,
  memory: z.boolean().default(false).describe("Include the running guest's memory, so a revert resumes where it was."),
  quiesce: z.boolean().default(false).describe("Freeze guest filesystems first (needs the guest agent / tools)."),
  description: z.string().max(1024).default(""),
  rollbackOn: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe("Set or change this value (a date, a ticket) to roll the guest back to this snapshot; each new value rolls back once."),
  adopt: Adopt,
  deleteOnDestroy: DeleteOnDestroy,
});
export type SnapshotSpec = z.output<typeof SnapshotInputs>;
