import { parseCpuSet } from "../../../provider/core/model";

/** Libvirt rewrites CPU sets in its own canonical spelling ("4-7,^6" → "4-5,7"): compare the CPUs they select. */
export function canonicalCpuSets<T>(projection: T): T {
  const p = structuredClone(projection) as { cpu: { pinning?: Record<string, string>; emulatorPinning?: string; numa?: { vcpus: string }[] } };
  const canon = (set: string) => parseCpuSet(set).join(",");
  if (p.cpu.pinning) p.cpu.pinning = Object.fromEntries(Object.entries(p.cpu.pinning).map(([k, v]) => [k, canon(v)]));
  if (p.cpu.emulatorPinning) p.cpu.emulatorPinning = canon(p.cpu.emulatorPinning);
  for (const cell of p.cpu.numa ?? []) cell.vcpus = canon(cell.vcpus);
  return p as T;
}

/** Libvirt generates a MAC for a NIC without one; the spec then expects whatever it chose. */
export function withGeneratedMacs<T extends { nics: Record<string, { mac?: string }> }>(expected: T, macs: Record<string, string>): T {
  const out = structuredClone(expected);
  for (const [slot, nic] of Object.entries(out.nics)) if (nic.mac === undefined) nic.mac = macs[slot];
  return out;
}
