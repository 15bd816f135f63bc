import { z } from "zod";
import { Adopt, DeleteOnDestroy, HostRef, Labels, ObjectName } from "./common";

export const PoolKind = z.enum(["dir", "fs", "netfs", "logical", "zfs", "iscsi", "rbd", "datastore"]);
export type PoolKind = z.infer<typeof PoolKind>;

export const StoragePoolInputs = z
  .strictObject({
    host: HostRef,
    name: ObjectName,
    kind: PoolKind.default("dir"),
    path: z.string().regex(/^\//, "must be an absolute path such as /var/lib/novacron/images").optional().describe("Target directory (dir, fs, netfs) or device path."),
    source: z.string().min(1).optional().describe("Source device, export (`host:/export`) or volume group, by kind."),
    autostart: z.boolean().default(true),
    adopt: Adopt,
    deleteOnDestroy: DeleteOnDestroy,
    labels: Labels,
  })
  .superRefine((pool, ctx) => {
    if (["dir", "fs", "netfs"].includes(pool.kind) && !pool.path && !pool.adopt) {
      ctx.addIssue({ code: "custom", path: ["path"], message: `is required for kind "${pool.kind}" (an absolute directory)` });
    }
    if (["fs", "netfs", "logical", "iscsi", "rbd", "zfs"].includes(pool.kind) && !pool.source && !pool.adopt) {
      ctx.addIssue({ code: "custom", path: ["source"], message: `is required for kind "${pool.kind}"` });
    }
  });
export type StoragePoolSpec = z.output<typeof StoragePoolInputs>;

export const VolumeFormat = z.enum(["qcow2", "raw", "vmdk"]);
export type VolumeFormat = z.infer<typeof VolumeFormat>;

export const VolumeInputs = z
  .strictObject({
    host: HostRef,
    pool: z.string().min(1).describe("Name of the storage pool (a StoragePool's `name` output)."),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, "must be a file-safe name such as web-root.qcow2"),
    sizeGiB: z.number().positive().max(65536).optional().describe("Capacity in GiB; growing is applied in place, shrinking is refused."),
    format: VolumeFormat.default("qcow2"),
    cloneFrom: z.string().min(1).optional().describe("Name of a volume in the same pool to copy."),
    backingStore: z.string().min(1).optional().describe("Name of a volume in the same pool to use as a copy-on-write base (qcow2)."),
    uploadFrom: z.string().regex(/^\//, "must be an absolute local file path").optional().describe("A local image file pushed into the volume (works for remote hosts too)."),
    adopt: Adopt,
    deleteOnDestroy: DeleteOnDestroy,
    labels: Labels,
  })
  .superRefine((v, ctx) => {
    const sources = ["cloneFrom", "backingStore", "uploadFrom"].filter((k) => v[k as keyof typeof v] !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({ code: "custom", path: [sources[1]], message: `cannot be combined with ${sources[0]}; give one source at most` });
    }
    if (sources.length === 0 && v.sizeGiB === undefined) {
      ctx.addIssue({ code: "custom", path: ["sizeGiB"], message: "is required for a blank volume (no cloneFrom, backingStore or uploadFrom)" });
    }
    if (v.backingStore && v.format !== "qcow2") {
      ctx.addIssue({ code: "custom", path: ["format"], message: `got "${v.format}"; a backingStore overlay must be "qcow2"` });
    }
  });
export type VolumeSpec = z.output<typeof VolumeInputs>;
