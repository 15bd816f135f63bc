// The boot order (bootOptions.bootOrder): vSphere lists bootable devices by the
// keys vCenter gave them; NovaCron names them by slot, so the order is mapped
// through the slot index both ways.
import { children, num, xsiType, type XmlObject, type XNode } from "../soap";
import type { SlotIndex } from "./devices";
import type { BootDevice } from "./spec";

const WIRE_TYPE: Record<BootDevice["kind"], string> = {
  disk: "VirtualMachineBootOptionsBootableDiskDevice",
  nic: "VirtualMachineBootOptionsBootableEthernetDevice",
};

function keyOf(device: BootDevice, index: SlotIndex): number | undefined {
  return (device.kind === "disk" ? index.disks.get(device.slot) : index.nics.get(device.slot))?.key;
}

/** The VM's boot order as slots; entries NovaCron cannot name (a CD-ROM, a floppy, a gone device) are left out. */
export function parseBootOrder(bootOptions: XNode | undefined, index: SlotIndex): BootDevice[] {
  const out: BootDevice[] = [];
  for (const entry of children(bootOptions, "bootOrder")) {
    const key = num(entry, "deviceKey");
    const type = xsiType(entry);
    const map = type === WIRE_TYPE.disk ? index.disks : type === WIRE_TYPE.nic ? index.nics : undefined;
    const slot = map && [...map].find(([, d]) => d.key === key)?.[0];
    if (slot !== undefined) out.push({ kind: type === WIRE_TYPE.disk ? "disk" : "nic", slot });
  }
  return out;
}

/** The wire entries, or undefined while a device of the order has no key yet (added in this change). */
export function bootOrderEntries(order: readonly BootDevice[], index: SlotIndex): XmlObject[] | undefined {
  const entries: XmlObject[] = [];
  for (const device of order) {
    const deviceKey = keyOf(device, index);
    if (deviceKey === undefined) return undefined;
    entries.push({ $type: WIRE_TYPE[device.kind], deviceKey });
  }
  return entries;
}

export function sameBootOrder(a: readonly BootDevice[], b: readonly BootDevice[]): boolean {
  return a.length === b.length && a.every((d, i) => d.kind === b[i]!.kind && d.slot === b[i]!.slot);
}
