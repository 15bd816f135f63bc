// CD/DVD drives: VirtualCdrom devices on the VM's IDE controllers (every VM has two, keys 200
// and 201) or on a SATA (AHCI) controller NovaCron adds. A drive's slot is its position, so no
// bookkeeping is needed: IDE bus b unit u is hd[a + 2b + u], SATA controller 0 unit u is sataN.
import { child, num, text, toXmlValue, xsiType, type XmlObject, type XNode } from "../soap";
import type { CdromSpec } from "./spec";

export interface CdromDevice {
  readonly raw: XNode;
  readonly key: number;
  readonly controllerKey: number;
  readonly unitNumber: number;
  /** "[datastore] path.iso" when an ISO is inserted. */
  readonly iso: string | undefined;
}

export interface Controller {
  readonly key: number;
  readonly busNumber: number;
}

export function parseCdrom(d: XNode): CdromDevice {
  const backing = child(d, "backing");
  const iso = xsiType(backing) === "VirtualCdromIsoBackingInfo" ? text(backing, "fileName") : undefined;
  return { raw: d, key: num(d, "key") ?? 0, controllerKey: num(d, "controllerKey") ?? 0, unitNumber: num(d, "unitNumber") ?? 0, iso };
}

/** The model slot of a drive at a position; undefined for positions no model slot names. */
export function cdromSlot(kind: "ide" | "sata", busNumber: number, unit: number): string | undefined {
  if (kind === "ide") return busNumber <= 1 && unit <= 1 ? `hd${String.fromCharCode(97 + 2 * busNumber + unit)}` : undefined;
  return busNumber === 0 ? `sata${unit}` : undefined;
}

/** The position of a model slot, or the reason vSphere cannot place it. */
export function cdromPosition(slot: string, bus: string): CdromSpec | string {
  if (bus === "ide") {
    const m = /^hd([a-d])$/.exec(slot);
    if (!m) return `IDE CD-ROM slots on vSphere are hda-hdd (two IDE controllers of two units); got "${slot}"`;
    const n = m[1]!.charCodeAt(0) - 97;
    return { controller: "ide", bus: Math.floor(n / 2), unit: n % 2 };
  }
  if (bus === "sata") {
    const m = /^sata(\d{1,2})$/.exec(slot);
    if (!m || Number(m[1]) > 29) return `SATA CD-ROM slots on vSphere are sata0-sata29 (one AHCI controller); got "${slot}"`;
    return { controller: "sata", bus: 0, unit: Number(m[1]) };
  }
  return `vSphere puts CD-ROM drives on IDE or SATA; got bus "${bus}" for "${slot}"`;
}

/** An ISO on an ESXi datastore, as the host mounts it, ↔ the datastore path vSphere names it by. */
const VMFS_PATH = /^\/vmfs\/volumes\/([^/]+)\/(.+\.iso)$/i;
export function isoDatastorePath(image: string): string | undefined {
  const m = VMFS_PATH.exec(image);
  return m ? `[${m[1]}] ${m[2]}` : undefined;
}
export function isoHostPath(fileName: string): string | undefined {
  const m = /^\[([^\]]+)\] (.+)$/.exec(fileName);
  return m ? `/vmfs/volumes/${m[1]}/${m[2]}` : undefined;
}

function backing(iso: string | undefined): XmlObject {
  // An empty drive: a client-device backing with nothing connected.
  return iso === undefined ? { $type: "VirtualCdromRemotePassthroughBackingInfo", deviceName: "", exclusive: false } : { $type: "VirtualCdromIsoBackingInfo", fileName: iso };
}

export function addCdrom(key: number, controllerKey: number, cdrom: CdromSpec): XmlObject {
  return {
    operation: "add",
    device: {
      $type: "VirtualCdrom",
      key,
      backing: backing(cdrom.iso),
      connectable: { startConnected: cdrom.iso !== undefined, allowGuestControl: true, connected: cdrom.iso !== undefined },
      controllerKey,
      unitNumber: cdrom.unit,
    },
  };
}

/** Another disc (or none) in a drive: the device resent with a new backing; vSphere does this live. */
export function changeDisc(device: CdromDevice, iso: string | undefined): XmlObject {
  const whole = toXmlValue(device.raw) as XmlObject;
  return {
    operation: "edit",
    device: { ...whole, backing: backing(iso), connectable: { startConnected: iso !== undefined, allowGuestControl: true, connected: iso !== undefined } },
  };
}

export const AHCI_WIRE_TYPE = "VirtualAHCIController";

/**
 * The device changes turning the drives the VM has into the wanted ones. `ide`/`sata` are the
 * VM's controllers; a SATA controller is added (with key `nextKey()`) when a SATA drive needs one.
 */
export function cdromChanges(
  wanted: Readonly<Record<string, CdromSpec>>,
  have: readonly CdromDevice[],
  controllers: { ide: readonly Controller[]; sata: readonly Controller[] },
  nextKey: () => number,
): XmlObject[] {
  const out: XmlObject[] = [];
  const slotOf = (d: CdromDevice): string | undefined => {
    const ide = controllers.ide.find((c) => c.key === d.controllerKey);
    if (ide) return cdromSlot("ide", ide.busNumber, d.unitNumber);
    const sata = controllers.sata.find((c) => c.key === d.controllerKey);
    return sata ? cdromSlot("sata", sata.busNumber, d.unitNumber) : undefined;
  };
  const bySlot = new Map(have.flatMap((d) => (slotOf(d) ? [[slotOf(d)!, d] as const] : [])));
  let sataKey = controllers.sata.find((c) => c.busNumber === 0)?.key;
  for (const [slot, cdrom] of Object.entries(wanted)) {
    const device = bySlot.get(slot);
    if (device) {
      if (device.iso !== cdrom.iso) out.push(changeDisc(device, cdrom.iso));
      continue;
    }
    let controllerKey: number | undefined;
    if (cdrom.controller === "ide") controllerKey = controllers.ide.find((c) => c.busNumber === cdrom.bus)?.key;
    else {
      if (sataKey === undefined) {
        sataKey = nextKey();
        out.push({ operation: "add", device: { $type: AHCI_WIRE_TYPE, key: sataKey, busNumber: 0 } });
      }
      controllerKey = sataKey;
    }
    if (controllerKey === undefined) throw new Error(`cdroms.${slot}: the VM has no IDE controller ${cdrom.bus}`);
    out.push(addCdrom(nextKey(), controllerKey, cdrom));
  }
  for (const [slot, device] of bySlot) if (!(slot in wanted)) out.push({ operation: "remove", device: toXmlValue(device.raw) });
  return out;
}
