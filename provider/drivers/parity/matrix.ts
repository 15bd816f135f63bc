import type { HypervisorCapabilities, Support } from "../../core/capabilities";
import { checkInputs } from "../../core/check";
import { classifyChange } from "../../core/classify";
import type { Disruption } from "../../core/disruption";
import { DriverKind } from "../../core/hosts";
import { RESOURCE_MODELS, type ResourceKind } from "../../core/model";
import { capabilitiesOf, hasDriver } from "../registry";
import { CHANGE_CASES, FIELD_PROBES, PARITY_HOSTS } from "./cases";

export const DRIVERS = DriverKind.options;
export type Driver = (typeof DRIVERS)[number];
/** The reference every other driver is compared with: KVM, the hypervisor the model is closest to. */
export const REFERENCE: Driver = "libvirt";

/** One cell: what a driver does with one feature, field or change. */
export type Cell =
  | { status: "supported"; detail?: string }
  /** Supported, but the change is made differently (another class) than on the reference. */
  | { status: "different"; disruption: Disruption; why: string }
  | { status: "refused"; reason: string }
  | { status: "not-applicable"; reason: string };

export interface Row {
  key: string;
  title: string;
  cells: Record<Driver, Cell>;
}

export interface ParityMatrix {
  drivers: { kind: Driver; product: string; implemented: boolean }[];
  capabilities: Row[];
  choices: Row[];
  fields: Row[];
  changes: Row[];
  limits: Row[];
}

/** Yes/no features of the capability tables, with the names the tables use. */
const SUPPORT_FEATURES: [string, (c: HypervisorCapabilities) => Support | undefined][] = [
  ["liveMigration", (c) => c.liveMigration],
  ["storageMigration", (c) => c.storageMigration],
  ["cpuPinning", (c) => c.cpuPinning],
  ["emulatorPinning", (c) => c.emulatorPinning],
  ["numa", (c) => c.numa],
  ["hugepages", (c) => c.hugepages],
  ["ballooning", (c) => c.ballooning],
  ["gpuPassthrough", (c) => c.gpuPassthrough],
  ["pciPassthrough", (c) => c.pciPassthrough],
  ["usbPassthrough", (c) => c.usbPassthrough],
  ["sriov", (c) => c.sriov],
  ["uefi", (c) => c.uefi],
  ["secureBoot", (c) => c.secureBoot],
  ["tpm", (c) => c.tpm],
  ["snapshots", (c) => c.snapshots],
  ["memorySnapshots", (c) => c.memorySnapshots],
  ["quiesceSnapshots", (c) => c.quiesceSnapshots],
  ["snapshotRollback", (c) => c.snapshotRollback],
  ["cloudInit", (c) => c.cloudInit],
  ["kernelBoot", (c) => c.kernelBoot],
  ["containers", (c) => c.containers],
  ["backups", (c) => c.backups],
  ["templateClones", (c) => c.templateClones],
  ["structuredCloudInit", (c) => c.structuredCloudInit],
  ["hotplug.cpu", (c) => c.hotplug.cpu],
  ["hotplug.memory", (c) => c.hotplug.memory],
  ["hotplug.disk", (c) => c.hotplug.disk],
  ["hotplug.nic", (c) => c.hotplug.nic],
  ["passthroughMigration", (c) => c.passthroughMigration],
];

/** The list-valued features: every value any table names is a row. */
const LIST_FEATURES: [string, (c: HypervisorCapabilities) => readonly string[]][] = [
  ["cpuModes", (c) => c.cpuModes],
  ["diskBuses", (c) => c.diskBuses],
  ["hotplugDiskBuses", (c) => c.hotplugDiskBuses],
  ["nicModels", (c) => c.nicModels],
  ["consoles", (c) => c.consoles],
  ["volumeFormats", (c) => c.volumeFormats],
  ["poolKinds", (c) => c.poolKinds],
  ["networkModes", (c) => c.networkModes],
  ["passthroughKinds", (c) => c.passthroughKinds],
];

const LIMITS: [string, (c: HypervisorCapabilities) => number][] = [
  ["maxVcpus", (c) => c.limits.maxVcpus],
  ["maxMemoryMiB", (c) => c.limits.maxMemoryMiB],
  ["maxDisks", (c) => c.limits.maxDisks],
  ["maxNics", (c) => c.limits.maxNics],
];

function perDriver(cell: (kind: Driver, caps: HypervisorCapabilities) => Cell): Record<Driver, Cell> {
  return Object.fromEntries(DRIVERS.map((kind) => [kind, cell(kind, capabilitiesOf(kind))])) as Record<Driver, Cell>;
}

/** check() of a VM spec on a driver's host, as a preview would run it. */
function refusals(kind: Driver, spec: Record<string, unknown>, olds?: Record<string, unknown>, resource: ResourceKind = "VirtualMachine"): string[] {
  const outcome = checkInputs(resource, olds, { ...spec, host: (spec.host as string | undefined) ?? kind }, PARITY_HOSTS, capabilitiesOf);
  return outcome.failures.map((f) => `${f.property}: ${f.reason}`);
}

function normalise(kind: Driver, spec: Record<string, unknown>): Record<string, unknown> {
  return RESOURCE_MODELS.VirtualMachine.schema.parse({ ...spec, host: (spec.host as string | undefined) ?? kind }) as Record<string, unknown>;
}

/** How one change is made on one driver: its plan's worst field and that field's reason. */
function planOf(kind: Driver, before: Record<string, unknown>, after: Record<string, unknown>): { disruption: Disruption; why: string } | { refused: string } {
  const failures = refusals(kind, after, { ...before, host: kind });
  if (failures.length > 0) return { refused: failures.join("; ") };
  const plan = classifyChange("VirtualMachine", normalise(kind, before), normalise(kind, after), capabilitiesOf(kind));
  const worst = plan.changes.find((c) => c.disruption === plan.worst);
  return { disruption: plan.worst, why: worst ? `${worst.path}: ${worst.why}` : "nothing changes" };
}

export function computeParityMatrix(): ParityMatrix {
  const drivers = DRIVERS.map((kind) => ({ kind, product: capabilitiesOf(kind).product, implemented: hasDriver(kind) }));
  const capabilities: Row[] = SUPPORT_FEATURES.map(([key, get]) => ({
    key,
    title: key,
    cells: perDriver((_, caps) => {
      const support = get(caps);
      if (support === undefined) return { status: "supported", detail: "no rule of its own" };
      return support === true ? { status: "supported" } : { status: "refused", reason: support.unsupported };
    }),
  }));
  const choices: Row[] = LIST_FEATURES.flatMap(([key, get]) => {
    const values = [...new Set(DRIVERS.flatMap((kind) => get(capabilitiesOf(kind))))].sort();
    return values.map((value) => ({
      key: `${key}:${value}`,
      title: `${key}: ${value}`,
      cells: perDriver((_, caps) => (get(caps).includes(value) ? { status: "supported" } : { status: "refused", reason: `${caps.product} does not take ${value}` })),
    }));
  });
  const fields: Row[] = FIELD_PROBES.map((probe) => ({
    key: probe.key ?? probe.field,
    title: `\`${probe.field}\` (${probe.title})`,
    cells: perDriver((kind) => {
      const failures = refusals(kind, typeof probe.spec === "function" ? probe.spec(kind) : probe.spec);
      return failures.length === 0 ? { status: "supported" } : { status: "refused", reason: failures.join("; ") };
    }),
  }));
  const changes: Row[] = CHANGE_CASES.map((c) => {
    const reference = planOf(REFERENCE, c.before, c.after);
    return {
      key: c.id,
      title: c.title,
      cells: perDriver((kind) => {
        const after = c.moves ? { ...c.after, host: `${kind}-b` } : c.after;
        const plan = planOf(kind, c.before, after);
        if ("refused" in plan) return { status: "refused", reason: plan.refused };
        const refPlan = kind === REFERENCE ? plan : c.moves ? planOf(REFERENCE, c.before, { ...c.after, host: `${REFERENCE}-b` }) : reference;
        if ("refused" in refPlan || refPlan.disruption === plan.disruption) return { status: "supported", detail: `${plan.disruption}: ${plan.why}` };
        return { status: "different", disruption: plan.disruption, why: plan.why };
      }),
    };
  });
  const limits: Row[] = LIMITS.map(([key, get]) => ({ key, title: key, cells: perDriver((_, caps) => ({ status: "supported", detail: String(get(caps)) })) }));
  return { drivers, capabilities, choices, fields, changes, limits };
}
