// vCPU ceilings ↔ qemu-server keys. Facts from PVE 9.1's API schema
// (../shared/contracts/proxmox-ve-api.json) and qm(1): sockets × cores is the most vCPUs the VM
// can have, `vcpus` how many of them are online (hot-pluggable above the boot count when
// `hotplug` lists `cpu`); `hotplug` absent or "1" means network,disk,usb and "0" none.
import type { VirtualMachineSpec } from "../../../core/model";

type Spec = VirtualMachineSpec;
const DEFAULT_HOTPLUG = ["network", "disk", "usb"];

/** The model's booted vCPUs (threads is always 1 on PVE). */
export function bootVcpus(spec: Spec): number {
  return spec.cpu.sockets * spec.cpu.cores * spec.cpu.threads;
}

/** Why PVE cannot hold this ceiling, if it cannot: PVE's ceiling is whole sockets of cores. */
export function ceilingProblem(spec: Spec): string | undefined {
  const max = spec.cpu.maxVcpus;
  if (max === undefined || max % spec.cpu.sockets === 0) return undefined;
  return `got ${max}; on Proxmox VE the ceiling is sockets × cores, so it must be a multiple of cpu.sockets (${spec.cpu.sockets})`;
}

/**
 * sockets, cores and vcpus as PVE spells them: with a ceiling, cores is the ceiling per socket
 * and vcpus the booted count; without one, cores is the model's and vcpus is left out.
 */
export function cpuTopology(spec: Spec): { sockets: number; cores: number; vcpus?: number } {
  const max = spec.cpu.maxVcpus;
  if (max === undefined) return { sockets: spec.cpu.sockets, cores: spec.cpu.cores };
  return { sockets: spec.cpu.sockets, cores: max / spec.cpu.sockets, vcpus: bootVcpus(spec) };
}

/** `hotplug` with `feature` on or off, starting from the current value (PVE's default when absent). */
export function hotplugWith(current: string | number | undefined, feature: string, on: boolean): string {
  const text = current === undefined ? "1" : String(current);
  const list = text === "1" ? [...DEFAULT_HOTPLUG] : text === "0" ? [] : text.split(",").filter((f) => f !== "");
  if (list.includes(feature) === on) return text;
  const next = on ? [...list, feature] : list.filter((f) => f !== feature);
  return next.length > 0 ? next.join(",") : "0";
}

/** The model's sockets, cores and maxVcpus read from a config (`lastCores` when vcpus does not split evenly). */
export function cpuFromConfig(config: Record<string, string | number | undefined>, lastCores: number): { sockets: number; cores: number; maxVcpus?: number } {
  const sockets = Number(config.sockets ?? 1);
  const cores = Number(config.cores ?? 1);
  if (config.vcpus === undefined) return { sockets, cores };
  const perSocket = Number(config.vcpus) / sockets;
  return { sockets, cores: Number.isInteger(perSocket) ? perSocket : lastCores, maxVcpus: sockets * cores };
}

/**
 * memory.maxMiB on PVE: memory hotplug, which PVE only takes with `numa=1`. PVE 9.1's schema has
 * no key for the ceiling itself (`memory` holds only `current`, the online amount; PVE sizes
 * QEMU's hot-pluggable maximum on its own), so the ceiling is NovaCron's: the plan keeps growth
 * within it, and a refresh keeps it from the state while `hotplug` still lists `memory`.
 */
export function memoryHotplug(spec: Spec): boolean {
  return spec.memory.maxMiB !== undefined;
}

/** Why PVE cannot take this memory ceiling, if it cannot. */
export function memoryCeilingProblem(spec: Spec): string | undefined {
  if (spec.memory.maxMiB === undefined || !spec.cpu.numa) return undefined;
  return "a memory ceiling together with explicit cpu.numa cells is not translated by NovaCron's Proxmox driver yet (PVE places hot-plugged memory on its own NUMA nodes); remove one of them for a proxmox host";
}

/** memory.maxMiB read back: kept from `last` while PVE still has memory hotplug and NUMA on. */
export function maxMiBFromConfig(config: Record<string, string | number | undefined>, last: Spec): number | undefined {
  const hotplug = hotplugWith(config.hotplug, "memory", true) === String(config.hotplug ?? "1");
  return hotplug && String(config.numa ?? "0") === "1" ? last.memory.maxMiB : undefined;
}
