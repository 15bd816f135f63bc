// An ESXi host's PCI devices and their passthrough state (DirectPath I/O), as
// the three places vSphere keeps them: the hardware inventory, the host's
// passthrough configuration, and the config target a VM on that host sees.
import { arrayItems, bool, child, getProperties, moref, num, text, type MoRef, type VimClient, type XNode } from "../soap";

export interface HostPciDevice {
  /** PCI address, "0000:3b:00.0". */
  readonly id: string;
  /** Four lower-case hex digits each; vSphere sends them as signed 16-bit numbers. */
  readonly vendorId: string;
  readonly deviceId: string;
  /** Class and subclass, four hex digits ("0300" is a VGA controller). */
  readonly classId: string;
  readonly vendorName: string;
  readonly deviceName: string;
  /** From config.pciPassthruInfo; false when the host lists no passthrough state for the device. */
  readonly passthruCapable: boolean;
  readonly passthruEnabled: boolean;
  readonly passthruActive: boolean;
  /** The host's system id a VM backing must name; from QueryConfigTarget, only for devices a VM may take. */
  readonly systemId: string | undefined;
}

/** A signed 16-bit wire number as four hex digits: vendor 0x8086 arrives as -32634. */
export function hex16(value: number | undefined): string {
  return ((value ?? 0) & 0xffff).toString(16).padStart(4, "0");
}

/** The hex form back to the signed 16-bit number the wire wants. */
export function signed16(hex: string): number {
  const n = parseInt(hex, 16);
  return n > 0x7fff ? n - 0x10000 : n;
}

/** Every PCI device of the host with its passthrough state. */
export async function listHostPciDevices(client: VimClient, host: MoRef): Promise<HostPciDevice[]> {
  const c = await getProperties(client, host, ["hardware.pciDevice", "config.pciPassthruInfo", "parent"]);
  const state = new Map<string, { capable: boolean; enabled: boolean; active: boolean }>();
  for (const p of arrayItems(c.props.get("config.pciPassthruInfo"))) {
    const id = text(p, "id");
    if (id) state.set(id, { capable: bool(p, "passthruCapable") ?? false, enabled: bool(p, "passthruEnabled") ?? false, active: bool(p, "passthruActive") ?? false });
  }
  const parent = moref(c.props.get("parent"));
  const systemIds = parent ? await passthroughTargets(client, parent, host) : new Map<string, string>();
  return arrayItems(c.props.get("hardware.pciDevice")).map((d) => {
    const id = text(d, "id") ?? "";
    const s = state.get(id);
    return {
      id,
      vendorId: hex16(num(d, "vendorId")),
      deviceId: hex16(num(d, "deviceId")),
      classId: hex16(num(d, "classId")),
      vendorName: text(d, "vendorName") ?? "",
      deviceName: text(d, "deviceName") ?? "",
      passthruCapable: s?.capable ?? false,
      passthruEnabled: s?.enabled ?? false,
      passthruActive: s?.active ?? false,
      systemId: systemIds.get(id),
    };
  });
}

/** PCI id → system id of the devices a VM on `host` can be given. */
async function passthroughTargets(client: VimClient, computeResource: MoRef, host: MoRef): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await configTargetItems(client, computeResource, host, "pciPassthrough")) {
    const id = text(child(p, "pciDevice"), "id");
    const systemId = text(p, "systemId");
    if (id && systemId) out.set(id, systemId);
  }
  return out;
}

/**
 * The entries named `item` of the config target a VM on `host` sees (QueryConfigTarget on its
 * compute resource's environment browser): where vCenter lists what a VM there may be given.
 */
export async function configTargetItems(client: VimClient, computeResource: MoRef, host: MoRef, item: string): Promise<XNode[]> {
  const browser = moref((await getProperties(client, computeResource, ["environmentBrowser"])).props.get("environmentBrowser"));
  if (!browser) return [];
  const target = await client.invoke("QueryConfigTarget", browser, { host });
  return (target?.children ?? []).filter((c) => c.name === item);
}
