import { parseCpuSet, type CpuMode } from "../../../core/model";
import type { XmlNode } from "./dom";
import type { ParsedCpu, ParsedMemory } from "./domain-parsed";
import { intAttr, intText, memoryAttrMiB, memoryMiB, scaledBytes } from "./units";

export function parseVcpus(domain: XmlNode): { current: number; max: number } {
  const vcpu = domain.child("vcpu");
  const max = intText(vcpu) ?? 1;
  return { current: intAttr(vcpu, "current") ?? max, max };
}

function cpuMode(cpu: XmlNode | undefined): { mode: CpuMode; model?: string } {
  const mode = cpu?.attr("mode");
  if (mode === "host-passthrough" || mode === "maximum") return { mode: "host-passthrough" };
  if (mode === "host-model") return { mode: "host-model" };
  const model = cpu?.child("model")?.text;
  // No <cpu>, or a custom one with no model: the emulator's default CPU, which the model names as such.
  return model === undefined || model === "" ? { mode: "hypervisor-default" } : { mode: "custom", model };
}

/**
 * The boot topology is recovered from libvirt's (which multiplies to the maximum) by dividing the
 * boot count by sockets×threads, the inverse of the builder's rule. Dies fold into sockets since the
 * model has none. A topology that does not divide, or none at all, reads as one socket of N cores.
 */
function bootTopology(cpu: XmlNode | undefined, current: number): { sockets: number; cores: number; threads: number } {
  const topology = cpu?.child("topology");
  if (!topology) return { sockets: 1, cores: current, threads: 1 };
  const sockets = (intAttr(topology, "sockets") ?? 1) * (intAttr(topology, "dies") ?? 1);
  const threads = intAttr(topology, "threads") ?? 1;
  if (current % (sockets * threads) !== 0) return { sockets: 1, cores: current, threads: 1 };
  return { sockets, cores: current / (sockets * threads), threads };
}

/** Renders CPU numbers in cpuset syntax with ranges: [0,1,2,5] → "0-2,5". */
export function formatCpuSet(cpus: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++;
    parts.push(i === j ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * Libvirt puts hot-add vCPUs (boot count … maximum) into cell 0 when no cell names them; the model's
 * cells list boot vCPUs only, so those are dropped, and the text is left alone when nothing is.
 */
function bootCpusOnly(cpus: string, current: number): string {
  if (!/^[\d,^-]+$/.test(cpus)) return cpus;
  const all = parseCpuSet(cpus);
  const boot = all.filter((n) => n < current);
  return boot.length === all.length ? cpus : formatCpuSet(boot);
}

export function parseCpu(domain: XmlNode): ParsedCpu {
  const { current, max } = parseVcpus(domain);
  const cpu = domain.child("cpu");
  const pins = domain.child("cputune")?.all("vcpupin") ?? [];
  const pinning: Record<string, string> = {};
  for (const pin of pins) {
    const vcpu = pin.attr("vcpu");
    const set = pin.attr("cpuset");
    if (vcpu !== undefined && set !== undefined) pinning[String(Number(vcpu))] = set;
  }
  const memnodes = domain.child("numatune")?.all("memnode") ?? [];
  const cells = (cpu?.child("numa")?.all("cell") ?? [])
    .map((cell, i) => ({ cell, id: intAttr(cell, "id") ?? i }))
    .sort((a, b) => a.id - b.id)
    .map(({ cell, id }) => {
      const bound = memnodes.find((m) => intAttr(m, "cellid") === id)?.attr("nodeset");
      return {
        vcpus: bootCpusOnly(cell.attr("cpus") ?? "", current),
        memoryMiB: memoryAttrMiB(cell.attr("memory"), cell.attr("unit")) ?? 0,
        ...(bound !== undefined && /^\d+$/.test(bound) ? { hostNode: Number(bound) } : {}),
      };
    });
  const emulatorPinning = domain.child("cputune")?.child("emulatorpin")?.attr("cpuset");
  return {
    ...bootTopology(cpu, current),
    ...(max > current ? { maxVcpus: max } : {}),
    ...cpuMode(cpu),
    ...(pins.length > 0 ? { pinning } : {}),
    ...(emulatorPinning !== undefined ? { emulatorPinning } : {}),
    ...(cells.length > 0 ? { numa: cells } : {}),
  };
}

export function parseMemory(domain: XmlNode): ParsedMemory {
  const memory = memoryMiB(domain.child("memory")) ?? 0;
  const sizeMiB = memoryMiB(domain.child("currentMemory")) ?? memory;
  const hotplug = memoryMiB(domain.child("maxMemory"));
  const maxMiB = hotplug ?? (memory > sizeMiB ? memory : undefined);
  const hugepages = domain.at("memoryBacking", "hugepages");
  const page = hugepages?.child("page");
  const pageBytes = page ? scaledBytes(page.attr("size") ?? "", page.attr("unit"), "KiB") : undefined;
  const balloon = domain.child("devices")?.child("memballoon");
  const period = intAttr(balloon?.child("stats"), "period");
  return {
    sizeMiB,
    ...(maxMiB !== undefined ? { maxMiB } : {}),
    // Hugepages without a <page> use the host's default size, which is 2 MiB on x86_64.
    ...(hugepages ? { hugepages: { pageSizeKiB: pageBytes !== undefined ? pageBytes / 1024 : 2048 } } : {}),
    ...(balloon?.attr("model") === "virtio" && period !== undefined && period > 0 ? { balloon: { statsPeriodSeconds: period } } : {}),
  };
}
