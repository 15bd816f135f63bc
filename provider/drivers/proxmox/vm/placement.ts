// CPU and memory placement: hugepages, affinity and guest NUMA cells ↔ qemu-server keys. Facts
// from PVE 9.1's API schema (../shared/contracts/proxmox-ve-api.json): `hugepages` is a page size
// in MiB ("2", "1024" or "any"), `affinity` one host CPU list for all of the VM's processes
// (pve-cpuset: "0,5,8-11"), `numa` a boolean and `numaN` "cpus=a-b;c,memory=MiB,hostnodes=…,policy=…"
// with `;` between ranges where the model's CPU sets use `,`.
import type { VirtualMachineSpec } from "../../../core/model";
import { formatProps, parseProps } from "./property-string";

type Spec = VirtualMachineSpec;
type SetKey = (key: string, value: string | number, origin: string) => void;
/** PVE takes numa0..numa7. */
export const MAX_NUMA_CELLS = 8;

function vcpus(spec: Spec): number {
  return spec.cpu.sockets * spec.cpu.cores * spec.cpu.threads;
}

/** The one host CPU set every vCPU is pinned to, or why there is none PVE can take. */
export function sharedAffinity(spec: Spec): { set: string } | { problem: string } | undefined {
  const pinning = spec.cpu.pinning;
  if (!pinning) return undefined;
  const sets = new Set(Object.values(pinning));
  const all = Object.keys(pinning).length === vcpus(spec);
  if (sets.size !== 1 || !all) {
    return {
      problem: `got ${JSON.stringify(pinning)}; Proxmox VE's \`affinity\` binds all vCPUs of a VM to one host CPU set, so per-vCPU pinning cannot be expressed: pin every vCPU (0-${vcpus(spec) - 1}) to the same set`,
    };
  }
  const [set] = sets;
  if (set.includes("^")) return { problem: `got "${set}"; Proxmox VE's affinity takes CPU numbers and ranges without ^ exclusions, e.g. "0-3,8"` };
  return { set };
}

/** What vmProblems adds for these fields. */
export function placementProblems(spec: Spec, fail: (property: string, reason: string) => void): void {
  const affinity = sharedAffinity(spec);
  if (affinity && "problem" in affinity) fail("cpu.pinning", affinity.problem);
  const cells = spec.cpu.numa ?? [];
  if (cells.length > MAX_NUMA_CELLS) fail("cpu.numa", `got ${cells.length} cells; Proxmox VE takes at most ${MAX_NUMA_CELLS} (numa0-numa${MAX_NUMA_CELLS - 1})`);
  cells.forEach((cell, i) => {
    if (cell.vcpus.includes("^")) fail(`cpu.numa.${i}.vcpus`, `got "${cell.vcpus}"; Proxmox VE's numa cpus take CPU numbers and ranges without ^ exclusions`);
  });
}

function numaCell(cell: NonNullable<Spec["cpu"]["numa"]>[number]): string {
  return formatProps(undefined, [
    ["cpus", cell.vcpus.replaceAll(",", ";")],
    ["memory", cell.memoryMiB],
    ["hostnodes", cell.hostNode],
    // The model's hostNode is a strict binding (libvirt's mode=strict): PVE's policy=bind.
    ["policy", cell.hostNode !== undefined ? "bind" : undefined],
  ]);
}

/** The keys these fields set (create and update alike; update's `set` skips unchanged ones). */
export function setPlacement(spec: Spec, set: SetKey): void {
  const hugepages = spec.memory.hugepages;
  if (hugepages) set("hugepages", hugepages.pageSizeKiB === 1048576 ? "1024" : "2", "memory.hugepages");
  const affinity = sharedAffinity(spec);
  if (affinity && "set" in affinity) set("affinity", affinity.set, "cpu.pinning");
  const cells = spec.cpu.numa ?? [];
  if (cells.length > 0) set("numa", 1, "cpu.numa");
  for (const [i, cell] of cells.entries()) set(`numa${i}`, numaCell(cell), `cpu.numa.${i}`);
}

/** Keys an update deletes: what the old spec set and the next one no longer does. */
export function placementDeletes(old: Spec, next: Spec, unset: (key: string) => void): void {
  if (old.memory.hugepages && !next.memory.hugepages) unset("hugepages");
  if (old.cpu.pinning && !next.cpu.pinning) unset("affinity");
  const before = old.cpu.numa?.length ?? 0;
  const after = next.cpu.numa?.length ?? 0;
  for (let i = after; i < before; i++) unset(`numa${i}`);
  // numa=1 stays while a memory ceiling needs it (PVE's memory hotplug requires NUMA).
  if (before > 0 && after === 0 && next.memory.maxMiB === undefined) unset("numa");
}

type Config = Record<string, string | number | undefined>;

/** The fields read back from a config; `last` fills what PVE spells in a way the model cannot. */
export function placementFromConfig(config: Config, last: Spec, sockets: number, cores: number): Pick<Spec["cpu"], "pinning" | "numa"> & Pick<Spec["memory"], "hugepages"> {
  const page = String(config.hugepages ?? "");
  // "any" (1 GiB when possible, else 2 MiB) has no model spelling: kept as the spec had it.
  const hugepages = page === "2" ? { pageSizeKiB: 2048 as const } : page === "1024" ? { pageSizeKiB: 1048576 as const } : page === "any" ? last.memory.hugepages : undefined;
  const affinity = config.affinity === undefined ? undefined : String(config.affinity);
  const count = sockets * cores;
  const pinning = affinity === undefined ? undefined : Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i), affinity]));
  const numa: NonNullable<Spec["cpu"]["numa"]> = [];
  for (let i = 0; i < MAX_NUMA_CELLS && String(config.numa ?? "0") === "1"; i++) {
    const raw = config[`numa${i}`];
    if (raw === undefined) break;
    const { props } = parseProps(`x,${String(raw)}`);
    const hostnodes = props.get("hostnodes");
    const lastNode = last.cpu.numa?.[i]?.hostNode;
    numa.push({
      vcpus: (props.get("cpus") ?? "").replaceAll(";", ","),
      memoryMiB: Number(props.get("memory") ?? 0),
      // A single host node is the model's; a range (set outside NovaCron) has no model spelling.
      ...(hostnodes !== undefined && /^\d+$/.test(hostnodes) ? { hostNode: Number(hostnodes) } : lastNode !== undefined ? { hostNode: lastNode } : {}),
    });
  }
  return { pinning, numa: numa.length > 0 ? numa : undefined, hugepages };
}
