// A VM created from a vzdump archive (PVE's create call with `archive`, the API behind
// qmrestore). Facts from PVE 9.1's API schema and qemu-server: with `archive`, drive keys are
// refused ("option conflicts with option 'archive'"), other config keys are merged over the
// archive's config (only for .vma archives: an old .tar one takes none), `storage` is where the
// disks go (else where they were), `unique` gives the NICs new MACs. The task is `qmrestore`.
import type { InputFailure } from "../../../core/errors";
import type { VirtualMachineSpec } from "../../../core/model";
import { containsUnknown } from "../../../core/unknown";
import { descriptionFor, withOwnerTag } from "./marker";

type Spec = VirtualMachineSpec;

/** A vzdump archive as PVE names it: `storage:backup/vzdump-<qemu|lxc>-<id>-<time>.<format>[.<compression>]`. */
const ARCHIVE = /^([a-z][a-z0-9\-_.]*[a-z0-9]):backup\/vzdump-(qemu|lxc|openvz)-\d+-[^/]+$/i;

export function restoreProblems(spec: Spec): InputFailure[] {
  const archive = spec.restoreFrom;
  if (archive === undefined || containsUnknown(archive)) return [];
  const m = ARCHIVE.exec(archive);
  if (!m) {
    return [
      {
        property: "restoreFrom",
        reason: `got "${archive}"; Proxmox VE restores a VM from a backup volume id such as "local:backup/vzdump-qemu-104-2026_12_05-03_00_00.vma.zst" (a Backup's archive output)`,
      },
    ];
  }
  if (m[2].toLowerCase() !== "qemu") {
    return [{ property: "restoreFrom", reason: `got "${archive}", a container (${m[2]}) backup; restore it with Container.restoreFrom, a VM restores only vzdump-qemu archives` }];
  }
  return [];
}

/** Only a .vma archive takes config keys with the restore; PVE refuses them for an old .tar one. */
export function takesOverrides(archive: string): boolean {
  return /\.vma(\.(zst|gz|lzo))?$/.test(archive);
}

/**
 * The restore call's parameters besides `vmid`: the archive, the first disk's storage for the
 * restored disks, new MACs, and — where PVE takes them — the name and NovaCron's tag, so the VM is
 * recognisably ours from its first moment. The rest of the spec is written after the task.
 */
export function restoreParams(spec: Spec, storage: string | undefined): Record<string, string | number> {
  const archive = spec.restoreFrom!;
  return {
    archive,
    unique: 1,
    ...(storage ? { storage } : {}),
    ...(takesOverrides(archive) ? { name: spec.name, tags: withOwnerTag(undefined), description: descriptionFor(spec.labels) } : {}),
  };
}
