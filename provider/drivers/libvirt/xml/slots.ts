/**
 * The reversible mapping between model slots and libvirt target device names.
 *
 * Libvirt derives an index from a disk's `dev` (vda = 0, vdz = 25, vdaa = 26 … as bijective
 * base-26), and the model has four slot families. The dev name therefore encodes the slot, not the
 * bus (the bus is its own attribute), so parsing never needs anything but the dev:
 *
 *   vdX      ↔ vdX                 (indices 0-25)
 *   sdX      ↔ sdX                 (indices 0-25)
 *   scsiN    ↔ sd + index 26+N     (scsi0 = sdaa … scsi99 = sddv)
 *   sataN    ↔ sd + index 126+N    (sata0 = sddw … sata99 = sdhr)
 *
 * Any other dev (hdc, xvda, sd beyond sata99) comes back as its own name: foreign domains keep a
 * readable key, and such a key simply matches no model slot.
 */

const SCSI_BASE = 26;
const SATA_BASE = 126;
const FAMILY_SIZE = 100;

/** Bijective base-26 letters, as libvirt's virDiskNameToIndex reads them. */
export function indexToLetters(index: number): string {
  let n = index + 1;
  let out = "";
  while (n > 0) {
    const rem = (n - 1) % 26;
    out = String.fromCharCode(97 + rem) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

export function lettersToIndex(letters: string): number | undefined {
  if (!/^[a-z]+$/.test(letters)) return undefined;
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

export function slotToTargetDev(slot: string): string {
  // hdX (IDE) and vdXX (past the 26th virtio disk) are libvirt's own names, used as they are.
  let m = /^(vd[a-z]{1,2}|sd[a-z]|hd[a-z])$/.exec(slot);
  if (m) return slot;
  m = /^(scsi|sata)(\d{1,2})$/.exec(slot);
  if (m) return `sd${indexToLetters((m[1] === "scsi" ? SCSI_BASE : SATA_BASE) + Number(m[2]))}`;
  throw new Error(`disk slot "${slot}" has no libvirt target name (accepted: vda-vdzz, sda-sdz, hda-hdz, scsi0-99, sata0-99)`);
}

export function targetDevToSlot(dev: string): string {
  const m = /^(vd|sd)([a-z]+)$/.exec(dev);
  const index = m ? lettersToIndex(m[2]) : undefined;
  if (!m || index === undefined) return dev;
  if (index < 26) return dev;
  if (m[1] === "vd") return dev;
  if (index < SCSI_BASE + FAMILY_SIZE) return `scsi${index - SCSI_BASE}`;
  if (index < SATA_BASE + FAMILY_SIZE) return `sata${index - SATA_BASE}`;
  return dev;
}

/** Slot order for emitting devices: by family then number, so the XML is stable whatever the map order. */
export function compareSlots(a: string, b: string): number {
  const key = (slot: string): [string, number] => {
    const m = /^([a-z]+?)(\d+)$/.exec(slot);
    return m ? [m[1], Number(m[2])] : [slot, -1];
  };
  const [fa, na] = key(a);
  const [fb, nb] = key(b);
  return fa < fb ? -1 : fa > fb ? 1 : na - nb;
}

/** NIC and hostdev slots travel in libvirt user aliases ("ua-" is libvirt's prefix for user-chosen aliases). */
export const USER_ALIAS_PREFIX = "ua-";

export function slotAlias(slot: string): string {
  return `${USER_ALIAS_PREFIX}${slot}`;
}

export function slotFromAlias(alias: string | undefined, pattern: RegExp): string | undefined {
  if (!alias?.startsWith(USER_ALIAS_PREFIX)) return undefined;
  const slot = alias.slice(USER_ALIAS_PREFIX.length);
  return pattern.test(slot) ? slot : undefined;
}

/**
 * Keys devices found in document order: aliased ones keep their slot, the rest take the lowest free
 * `<prefix>N` in order, so a foreign domain's NICs read as net0, net1 … as the brief for refresh expects.
 */
export function assignSlots<T>(items: T[], aliasSlot: (item: T) => string | undefined, prefix: string): [string, T][] {
  const taken = new Set(items.map(aliasSlot).filter((s): s is string => s !== undefined));
  let next = 0;
  return items.map((item) => {
    const own = aliasSlot(item);
    if (own !== undefined) return [own, item];
    while (taken.has(`${prefix}${next}`)) next++;
    taken.add(`${prefix}${next}`);
    return [`${prefix}${next}`, item];
  });
}
