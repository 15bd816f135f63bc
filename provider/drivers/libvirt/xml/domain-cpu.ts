import { parseCpuSet, vcpuCount, type VirtualMachineSpec } from "../../../core/model";
import { el, elIfAny, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import type { DomainType } from "./domain-context";
import type { XmlNode } from "./dom";
import { preservedDimmMiB, toElement, type PreservedParts } from "./domain-preserve";

/** DIMM slots offered for memory hotplug: QEMU needs a fixed count up front; 16 is what virt-manager-era guides use. */
export const MEMORY_HOTPLUG_SLOTS = 16;

export interface Topology {
  sockets: number;
  cores: number;
  threads: number;
}

/**
 * Libvirt requires sockets×cores×threads to equal the maximum vCPU count, not the boot count. With
 * hot-add headroom the extra vCPUs become extra cores per socket, keeping sockets and threads as
 * asked; a maximum that is not a multiple of sockets×threads has no such topology and is refused.
 */
export function libvirtTopology(cpu: VirtualMachineSpec["cpu"]): { topology: Topology; max: number } {
  const boot = cpu.sockets * cpu.cores * cpu.threads;
  const max = Math.max(cpu.maxVcpus ?? boot, boot);
  if (max === boot) return { topology: { sockets: cpu.sockets, cores: cpu.cores, threads: cpu.threads }, max };
  const perCore = cpu.sockets * cpu.threads;
  if (max % perCore !== 0) {
    throw new LibvirtXmlError("cpu.maxVcpus", `got ${max}; libvirt needs sockets×cores×threads to equal the maximum, so it must be a multiple of sockets×threads (${perCore})`);
  }
  return { topology: { sockets: cpu.sockets, cores: max / perCore, threads: cpu.threads }, max };
}

export function vcpuElement(spec: VirtualMachineSpec): XmlElement {
  const { max } = libvirtTopology(spec.cpu);
  const boot = vcpuCount(spec);
  return el("vcpu", { placement: "static", current: boot < max ? boot : undefined }, max);
}

export function cputuneElement(spec: VirtualMachineSpec, preserved: XmlNode[] = []): XmlElement | undefined {
  const pins = Object.entries(spec.cpu.pinning ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  return elIfAny(
    "cputune",
    {},
    ...pins.map(([vcpu, cpuset]) => el("vcpupin", { vcpu, cpuset })),
    spec.cpu.emulatorPinning !== undefined && el("emulatorpin", { cpuset: spec.cpu.emulatorPinning }),
    ...preserved.map(toElement),
  );
}

export function cpuElement(spec: VirtualMachineSpec, type: DomainType, preserved?: PreservedParts): XmlElement {
  const { topology } = libvirtTopology(spec.cpu);
  const cpu = spec.cpu;
  // Under TCG there is no host CPU to pass through; libvirt's "maximum" is the emulator's closest equivalent.
  const mode = cpu.mode === "host-passthrough" && type === "qemu" ? "maximum" : cpu.mode;
  const attrs =
    mode === "hypervisor-default"
      ? {}
      : mode === "custom"
        ? { mode, match: "exact", check: "partial" }
        : mode === "host-model"
          ? { mode }
          : { mode, check: "none", migratable: "on" };
  const cells = cpu.numa ?? [];
  // CPU features and the like that the host's definition holds; libvirt takes features only with a model or a host mode.
  const kept = mode === "hypervisor-default" ? [] : (preserved?.cpu ?? []).map(toElement);
  const cellExtras = (id: number) => preserved?.numaCells[id];
  return el(
    "cpu",
    attrs,
    mode === "custom" && el("model", { fallback: "forbid" }, cpu.model ?? ""),
    el("topology", { sockets: topology.sockets, cores: topology.cores, threads: topology.threads }),
    ...kept,
    cells.length > 0 &&
      el(
        "numa",
        {},
        ...cells.map((cell, id) =>
          el(
            "cell",
            // Attributes the model has no field for (memAccess='shared' for vhost-user …) stay as the host has them.
            { id, cpus: cell.vcpus, memory: cell.memoryMiB, unit: "MiB", ...cellExtras(id)?.attrs },
            ...(cellExtras(id)?.children ?? []).map(toElement),
          ),
        ),
      ),
  );
}

export function numatuneElement(spec: VirtualMachineSpec): XmlElement | undefined {
  const bound = (spec.cpu.numa ?? []).map((cell, id) => ({ id, node: cell.hostNode })).filter((c) => c.node !== undefined);
  if (bound.length === 0) return undefined;
  const nodes = [...new Set(bound.map((c) => c.node as number))].sort((a, b) => a - b);
  return el("numatune", {}, el("memory", { mode: "strict", nodeset: nodes.join(",") }), ...bound.map((c) => el("memnode", { cellid: c.id, mode: "strict", nodeset: c.node })));
}

/**
 * With NUMA cells libvirt sets `<memory>` to the cells' sum, so a higher ceiling there would be lost:
 * it becomes `<maxMemory>` (DIMM hotplug, which needs NUMA anyway). Without NUMA the ceiling is the
 * balloon's: `<memory>` is the maximum and `<currentMemory>` what the guest runs with.
 */
export function memoryElements(spec: VirtualMachineSpec, preserved?: PreservedParts): XmlElement[] {
  const { sizeMiB, maxMiB } = spec.memory;
  const cells = spec.cpu.numa ?? [];
  const numa = cells.length > 0;
  const cellsMiB = cells.reduce((sum, c) => sum + c.memoryMiB, 0);
  if (numa && cellsMiB < sizeMiB && cellsMiB + preservedDimmMiB(preserved) !== sizeMiB) {
    throw new LibvirtXmlError(
      "cpu.numa",
      `the cells hold ${cellsMiB} MiB; libvirt sizes a NUMA guest by its cells (plus hot-plugged DIMMs, which this VM has none of for the other ${sizeMiB - cellsMiB} MiB): make them add up to memory.sizeMiB (${sizeMiB})`,
    );
  }
  // With NUMA, <memory> is the cells' sum (libvirt recomputes it); the balloon may sit below it.
  const booted = numa ? Math.max(cellsMiB, sizeMiB) : sizeMiB;
  const ceiling = maxMiB !== undefined && maxMiB > booted ? maxMiB : undefined;
  const out: XmlElement[] = [];
  if (numa && ceiling !== undefined) out.push(el("maxMemory", { slots: MEMORY_HOTPLUG_SLOTS, unit: "MiB" }, ceiling));
  out.push(el("memory", { unit: "MiB" }, numa ? booted : (ceiling ?? sizeMiB)));
  out.push(el("currentMemory", { unit: "MiB" }, sizeMiB));
  const backing = [
    spec.memory.hugepages && el("hugepages", {}, el("page", { size: spec.memory.hugepages.pageSizeKiB, unit: "KiB" })),
    ...(preserved?.memoryBacking ?? []).map(toElement),
  ];
  if (backing.some(Boolean)) out.push(el("memoryBacking", {}, ...backing));
  return out;
}

/** A set such as "2,^2" passes the model's syntax check yet selects nothing, which libvirt rejects. */
export function checkCpuSets(spec: VirtualMachineSpec): void {
  for (const [vcpu, set] of Object.entries(spec.cpu.pinning ?? {})) {
    if (parseCpuSet(set).length === 0) throw new LibvirtXmlError(`cpu.pinning.${vcpu}`, `"${set}" selects no host CPU`);
  }
}
