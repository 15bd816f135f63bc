import { VirtualMachineInputs, type VirtualMachineSpec } from "../../../provider/core/model";
import { nodeDeviceName, observedSpec } from "../../../provider/drivers/libvirt/resources/vm-observe";
import { driveAddressesOf } from "../../../provider/drivers/libvirt/resources/vm-context";
import { buildDomainXml, parseDomainXml, type DomainBuildContext, type ParsedDomain } from "../../../provider/drivers/libvirt/xml";

/** libvirt's "shut off" state number: refresh of a defined, stopped domain. */
const SHUTOFF = 5;

export interface AdoptOutcome {
  /** The observed spec as the model parsed it, when it did. */
  spec?: VirtualMachineSpec;
  /** Why the model refused the observed spec. */
  refused?: string[];
  /** The XML the builder writes back from the observed spec (the next update's re-define). */
  rebuilt?: string;
  /** Differences after reading the rebuilt XML again (empty when the round trip holds). */
  drift?: string[];
  parsed: ParsedDomain;
}

/**
 * What refresh of a domain NovaCron never saw records, then what the next update would write:
 * parse → observed spec → model → build (with the host's preserved parts, as update does) → parse.
 * The recorded spec is a bare adoption spec (host, name), as for a VM read by id.
 */
export function adopt(xml: string): AdoptOutcome {
  const parsed = parseDomainXml(xml);
  const first = observe(parsed);
  if (!first.success) return { parsed, refused: first.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
  const spec = first.data;
  const rebuilt = buildDomainXml(spec, rebuildContext(parsed, spec));
  const reparsed = parseDomainXml(rebuilt);
  const second = observe(reparsed);
  if (!second.success) return { parsed, spec, rebuilt, drift: second.error.issues.map((i) => `rebuilt: ${i.path.join(".")}: ${i.message}`) };
  const drift = differences(spec, second.data, "");
  if (JSON.stringify(parsed.preserved.summary) !== JSON.stringify(reparsed.preserved.summary)) {
    drift.push(`unmanaged: ${JSON.stringify(parsed.preserved.summary)} became ${JSON.stringify(reparsed.preserved.summary)}`);
  }
  for (const part of ["top", "os", "cpu", "metadata", "settings"] as const) {
    const names = (p: ParsedDomain) => p.preserved[part].map((n) => n.name).join(",");
    if (part === "cpu" && spec.cpu.mode === "hypervisor-default") continue;
    if (names(parsed) !== names(reparsed) && !(part === "settings" && names(parsed) === "")) drift.push(`preserved ${part}: ${names(parsed)} became ${names(reparsed)}`);
  }
  return { parsed, spec, rebuilt, drift };
}

function observe(parsed: ParsedDomain) {
  const last = VirtualMachineInputs.parse({ host: "kvm1", name: parsed.name || "unnamed", memory: { sizeMiB: 1 } });
  return VirtualMachineInputs.safeParse(observedSpec(parsed, SHUTOFF, last, {}));
}

/** What the driver's update resolves from the host, built from the parsed domain instead of RPC calls. */
function rebuildContext(parsed: ParsedDomain, spec: VirtualMachineSpec): DomainBuildContext {
  const disks: DomainBuildContext["disks"] = {};
  for (const [slot, disk] of Object.entries(parsed.disks)) {
    const src = disk.source;
    const format = spec.disks[slot]?.format;
    if (src.kind === "file") disks[slot] = { kind: "file", path: src.path, format };
    else if (src.kind === "block") disks[slot] = { kind: "block", dev: src.dev, format };
    else if (src.kind === "volume") disks[slot] = { kind: "volume", pool: src.pool, volume: src.volume, format };
  }
  const passthrough: NonNullable<DomainBuildContext["passthrough"]> = {};
  for (const [slot, dev] of Object.entries(parsed.passthrough)) {
    const id = spec.passthrough[slot].device;
    passthrough[id] =
      dev.kind === "pci"
        ? { kind: "pci", address: dev.address, managed: dev.managed }
        : { kind: "usb", vendorId: dev.vendorId ?? 0, productId: dev.productId ?? 0, managed: dev.managed };
    if (dev.kind === "pci" && id !== nodeDeviceName(dev.address)) throw new Error(`passthrough ${slot}: id ${id}`);
  }
  return {
    type: parsed.type === "kvm" ? "kvm" : "qemu",
    ...(parsed.arch !== undefined ? { arch: parsed.arch } : {}),
    ...(parsed.emulator !== undefined ? { emulator: parsed.emulator } : {}),
    ...(parsed.uuid !== undefined ? { uuid: parsed.uuid } : {}),
    disks,
    macs: parsed.macs,
    passthrough,
    boot: spec.kernelBoot,
    ownership: { resource: spec.name },
    preserved: parsed.preserved,
    driveAddresses: driveAddressesOf(parsed),
    ...(parsed.firmware.loader !== undefined && spec.firmware.type === "uefi"
      ? { uefi: { loader: parsed.firmware.loader, ...(parsed.firmware.nvram !== undefined ? { nvram: parsed.firmware.nvram } : {}) } }
      : {}),
  };
}

/** Dotted paths where two JSON values differ (undefined and absent are the same). */
function differences(a: unknown, b: unknown, path: string): string[] {
  const norm = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;
  const x = norm(a);
  const y = norm(b);
  if (x !== null && y !== null && typeof x === "object" && typeof y === "object" && !Array.isArray(x) && !Array.isArray(y)) {
    const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
    return [...keys].flatMap((k) => differences((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(x) === JSON.stringify(y) ? [] : [`${path}: ${JSON.stringify(x)} became ${JSON.stringify(y)}`];
}
