import type { VirtualMachineSpec } from "../../../core/model";

/**
 * The model's disk slots and PVE's config keys. PVE's key names the bus: `scsiN` (virtio-scsi,
 * 0-30), `virtioN` (virtio-blk, 0-15), `sataN` (0-5). The model's `vdX`/`sdX` spellings map to
 * `virtioN`/`scsiN` by letter; `scsiN`/`sataN` are taken as they are.
 */
const LIMITS: Record<string, number> = { scsi: 30, virtio: 15, sata: 5 };

export function pveDiskKey(slot: string): string | undefined {
  let key: string | undefined;
  const letter = /^(vd|sd)([a-z])$/.exec(slot);
  if (letter) key = `${letter[1] === "vd" ? "virtio" : "scsi"}${letter[2].charCodeAt(0) - 97}`;
  else if (/^(scsi|sata)\d+$/.test(slot)) key = slot.replace(/^(\D+)0*(\d)/, "$1$2");
  if (!key) return undefined;
  const [, bus, n] = /^(\D+)(\d+)$/.exec(key)!;
  return Number(n) <= LIMITS[bus] ? key : undefined;
}

/** Why a slot has no PVE key, in words a user can act on. */
export function slotProblem(slot: string): string {
  if (slot.startsWith("nvme")) return "Proxmox VE has no NVMe disk bus; use scsiN (virtio-scsi), vdX (virtio-blk) or sataN";
  return "outside Proxmox VE's slots: scsi0-scsi30 and sda-sdz (virtio-scsi, up to 31), vda-vdp (virtio-blk, 16), sata0-sata5";
}

/** The slot a PVE disk key is recorded under: the spelling the last spec used, else the canonical one. */
export function modelDiskSlot(key: string, last: VirtualMachineSpec | undefined): string | undefined {
  for (const slot of Object.keys(last?.disks ?? {})) if (pveDiskKey(slot) === key) return slot;
  const m = /^(scsi|virtio|sata)(\d+)$/.exec(key);
  if (!m) return undefined;
  if (m[1] === "virtio") return Number(m[2]) < 26 ? `vd${String.fromCharCode(97 + Number(m[2]))}` : undefined;
  return key;
}

export function isPveDiskKey(key: string): boolean {
  return /^(scsi|virtio|sata|ide)\d+$/.test(key);
}
