import type { HypervisorCapabilities } from "./capabilities";
import { type Disruption, needsRestart, worstOf } from "./disruption";
import { absorbedWhy, crossMoveWhy } from "./cross-move";
import type { InputFailure } from "./errors";
import type { ResourceKind, VirtualMachineSpec } from "./model";
import { vcpuCount } from "./model";
import { isUnknown } from "./unknown";

/** One changed field, how disruptive applying it is, and why. */
export interface FieldChange {
  path: string;
  disruption: Disruption;
  why: string;
  /** The guest is powered off although the class is not reboot/cold (a cross-hypervisor move). */
  stopsGuest?: boolean;
}

export interface ChangePlan {
  changes: FieldChange[];
  worst: Disruption;
  /** Top-level input names Pulumi must report as replacing the resource. */
  replaces: string[];
}

/** Everything a rule needs to decide: both specs, the field values and the target's capabilities. */
interface RuleContext {
  path: string;
  before: unknown;
  after: unknown;
  old: Record<string, unknown>;
  next: Record<string, unknown>;
  caps: HypervisorCapabilities;
  /** The old host's driver kind differs from the new one's. */
  crossesDriver: boolean;
}
type Answer = { disruption: Disruption; why: string; stopsGuest?: boolean };
type Rule = ((ctx: RuleContext) => Answer) & { constant?: Disruption };

/** A rule whose answer never depends on the values; marked so schema.json can list it. */
const fixed = (disruption: Disruption, why: string): Rule => Object.assign(() => ({ disruption, why }), { constant: disruption });
const replace = (why: string) => fixed("replace", why);

/**
 * The neutral rules, per field pattern (`*` is a slot). Drivers override single patterns
 * through `capabilities.changeRules` where their hypervisor behaves differently.
 */
const VM_RULES: Record<string, Rule> = {
  name: replace("the hypervisor identifies the VM by its name"),
  host: ({ caps, crossesDriver, old }) => {
    if (crossesDriver) {
      const vm = old as VirtualMachineSpec;
      return { disruption: "migrate", why: crossMoveWhy(vm, caps), stopsGuest: vm.powerState === "running" };
    }
    if (old.powerState === "running" && caps.liveMigration !== true) {
      return { disruption: "replace", why: `live migration is unavailable (${caps.liveMigration.unsupported}); the VM is recreated on the new host` };
    }
    return { disruption: "migrate", why: old.powerState === "running" ? "live migration to the new host" : "the stopped VM's definition moves to the new host" };
  },
  machine: fixed("reboot", "the machine type is fixed while the VM runs"),
  "cpu.sockets": fixed("reboot", "the CPU topology is fixed while the VM runs"),
  "cpu.threads": fixed("reboot", "the CPU topology is fixed while the VM runs"),
  "cpu.cores": ({ caps, old, next }) => {
    const ceiling = vmCpuCeiling(old);
    const wanted = vcpuCount(next as VirtualMachineSpec);
    if (caps.hotplug.cpu !== true) return { disruption: "reboot", why: caps.hotplug.cpu.unsupported };
    if (wanted > ceiling) return { disruption: "reboot", why: `${wanted} vCPUs exceed the running maximum of ${ceiling}; raise cpu.maxVcpus ahead of time to hot-add` };
    return { disruption: "hotplug", why: "vCPUs are hot-added or removed within cpu.maxVcpus" };
  },
  "cpu.maxVcpus": fixed("reboot", "the vCPU ceiling is fixed while the VM runs"),
  "cpu.mode": fixed("reboot", "the CPU model is fixed while the VM runs"),
  "cpu.model": fixed("reboot", "the CPU model is fixed while the VM runs"),
  "cpu.pinning": fixed("reboot", "vCPU pinning takes effect at the next start"),
  "cpu.emulatorPinning": fixed("reboot", "emulator pinning takes effect at the next start"),
  "cpu.numa": fixed("reboot", "the guest NUMA topology is fixed while the VM runs"),
  "memory.sizeMiB": ({ caps, old, next }) => {
    const ceiling = vmMemoryCeiling(old);
    const wanted = (next.memory as VirtualMachineSpec["memory"]).sizeMiB;
    if (caps.ballooning !== true) return { disruption: "reboot", why: caps.ballooning.unsupported };
    if (wanted > ceiling) return { disruption: "reboot", why: `${wanted} MiB exceeds the running maximum of ${ceiling} MiB; raise memory.maxMiB ahead of time to grow live` };
    return { disruption: "live", why: "the balloon moves the running VM's memory within memory.maxMiB" };
  },
  "memory.maxMiB": fixed("reboot", "the memory ceiling is fixed while the VM runs"),
  "memory.hugepages": fixed("reboot", "hugepage backing is chosen when the VM starts"),
  "memory.balloon": fixed("live", "balloon settings are applied to the running VM"),
  "disks.*": ({ before, after, caps }) => {
    const bus = ((after ?? before) as { bus: string }).bus;
    const verb = before === undefined ? "attached" : "detached";
    if (caps.hotplug.disk !== true) return { disruption: "cold", why: caps.hotplug.disk.unsupported };
    if (!caps.hotplugDiskBuses.includes(bus as never)) return { disruption: "cold", why: `a ${bus} disk cannot be ${verb} while the guest runs` };
    return { disruption: "hotplug", why: `the disk is ${verb} while the guest runs` };
  },
  "disks.*.volume": fixed("hotplug", "the old disk is detached and the new one attached"),
  "disks.*.sizeGiB": ({ before, after }) =>
    Number(after) > Number(before)
      ? { disruption: "live", why: "the disk grows in place while the guest runs" }
      : { disruption: "replace", why: "a disk cannot shrink; the VM would be rebuilt" },
  "disks.*.pool": fixed("hotplug", "a new blank disk is made in the other pool and swapped in"),
  "disks.*.bootOrder": fixed("reboot", "boot order is read at the next start"),
  "disks.*.bus": fixed("cold", "moving a disk to another bus needs the VM powered off"),
  "disks.*.cache": fixed("cold", "cache mode is set when the disk is opened"),
  "disks.*.io": fixed("cold", "the I/O mode is set when the disk is opened"),
  "disks.*.iothread": fixed("cold", "the iothread is bound when the disk is opened"),
  "disks.*.format": fixed("cold", "the format is set when the disk is opened"),
  "disks.*.readOnly": fixed("cold", "read-only is set when the disk is opened"),
  "disks.*.discard": fixed("cold", "discard handling is set when the disk is opened"),
  "disks.*.detectZeroes": fixed("cold", "zero detection is set when the disk is opened"),
  cdroms: fixed("cold", "CD-ROM drives are added or removed while the VM is powered off"),
  "cdroms.*": fixed("cold", "a CD-ROM drive is added or removed while the VM is powered off"),
  "cdroms.*.image": fixed("live", "the disc is changed in the running drive"),
  "cdroms.*.bus": fixed("cold", "moving a drive to another bus needs the VM powered off"),
  "cdroms.*.bootOrder": fixed("reboot", "boot order is read at the next start"),
  "nics.*": ({ before, caps }) =>
    caps.hotplug.nic === true
      ? { disruption: "hotplug", why: `the NIC is ${before === undefined ? "attached" : "detached"} while the guest runs` }
      : { disruption: "cold", why: caps.hotplug.nic.unsupported },
  "nics.*.network": fixed("live", "the running NIC is reconnected to the other network"),
  "nics.*.bridge": fixed("live", "the running NIC is reconnected to the other bridge"),
  "nics.*.vlan": fixed("live", "the VLAN tag of the running NIC is changed"),
  "nics.*.sriovPool": fixed("hotplug", "the virtual function is swapped"),
  "nics.*.direct": fixed("cold", "a macvtap NIC is tied to its host interface while the VM runs"),
  "nics.*.user": fixed("cold", "user-mode networking is set up when the VM starts"),
  "nics.*.ethernet": fixed("cold", "the tap device is opened when the VM starts"),
  "nics.*.mac": fixed("hotplug", "the NIC is detached and attached again with the new address"),
  "nics.*.model": fixed("cold", "the NIC model is fixed while the VM runs"),
  "nics.*.queues": fixed("cold", "the queue count is fixed while the VM runs"),
  "nics.*.bootOrder": fixed("reboot", "boot order is read at the next start"),
  "passthrough.*": fixed("cold", "passthrough devices are assigned while the VM is powered off"),
  "firmware.type": replace("an installed guest boots with the firmware it was installed for"),
  "firmware.secureBoot": fixed("cold", "the firmware variables are chosen at power-on"),
  "firmware.tpm": fixed("cold", "the TPM device is added while the VM is powered off"),
  cloudInit: fixed("reboot", "the seed is rebuilt with a new instance-id; cloud-init applies it at the next boot"),
  kernelBoot: fixed("cold", "the kernel is loaded at power-on"),
  cloneFrom: replace("the template is copied only when the VM is created"),
  restoreFrom: replace("the archive is restored only when the VM is created"),
  console: fixed("cold", "the console device is set up at power-on"),
  powerState: fixed("live", "a power action"),
  updatePolicy: fixed("none", "NovaCron's own setting"),
  waitForIp: fixed("none", "NovaCron's own setting"),
  stateful: fixed("none", "NovaCron's own setting"),
  labels: fixed("live", "stored in the VM's metadata"),
};

/** Whether NovaCron manages or deletes an object is its own bookkeeping: nothing on the host changes. */
const OWNERSHIP_RULES: Record<string, Rule> = {
  adopt: fixed("none", "NovaCron's own setting"),
  deleteOnDestroy: fixed("none", "NovaCron's own setting"),
};

const POOL_RULES: Record<string, Rule> = {
  host: replace("a pool belongs to one host"),
  name: replace("the pool is identified by its name"),
  kind: replace("the pool kind is fixed"),
  path: replace("the pool's target is fixed"),
  source: replace("the pool's source is fixed"),
  autostart: fixed("live", "autostart is a flag"),
  ...OWNERSHIP_RULES,
  labels: fixed("none", "recorded only"),
};
const VOLUME_RULES: Record<string, Rule> = {
  // A volume's host usually follows its VM's. Recreating it on the new host would leave it
  // empty; the volume stays on its storage, which the new host must reach (shared storage).
  host: ({ crossesDriver }) =>
    crossesDriver
      ? { disruption: "replace", why: "another kind of hypervisor cannot use this volume; an empty one is made there" }
      : { disruption: "none", why: "the volume stays on its storage and is used from the new host (shared storage); nothing is copied or recreated" },
  pool: replace("a volume belongs to one pool"),
  name: replace("the volume is identified by its name"),
  format: replace("the on-disk format is fixed"),
  cloneFrom: replace("the content source applies only at creation"),
  backingStore: replace("the backing chain is fixed"),
  uploadFrom: replace("the content source applies only at creation"),
  sizeGiB: ({ before, after }) =>
    before === undefined || Number(after) > Number(before)
      ? { disruption: "live", why: "the volume grows in place" }
      : { disruption: "replace", why: "volumes cannot shrink; it would be recreated empty" },
  ...OWNERSHIP_RULES,
  labels: fixed("none", "recorded only"),
};
const NETWORK_RULES: Record<string, Rule> = {
  host: replace("a network belongs to one host"),
  name: replace("the network is identified by its name"),
  mode: replace("the forwarding mode is fixed"),
  cidr: replace("the subnet is fixed"),
  bridge: replace("the bridge is fixed"),
  physicalFunction: replace("the physical function is fixed"),
  vlan: replace("the VLAN is fixed"),
  "dhcp.staticLeases": fixed("live", "leases are added and removed on the running network"),
  dhcp: fixed("replace", "the DHCP range is fixed while the network runs"),
  autostart: fixed("live", "autostart is a flag"),
  ...OWNERSHIP_RULES,
  labels: fixed("none", "recorded only"),
};
const PASSTHROUGH_RULES: Record<string, Rule> = {
  labels: fixed("none", "recorded only"),
  "*": replace("a different device is selected"),
};
const SNAPSHOT_RULES: Record<string, Rule> = {
  // A snapshot is where its VM is: a VM's move takes its snapshots along (vMotion keeps them,
  // the libvirt driver carries their records), so the Snapshot's host only follows. Retaking
  // it would destroy the point in time it holds.
  host: ({ crossesDriver, old, next }) =>
    crossesDriver || old.vm !== next.vm
      ? { disruption: "replace", why: "the VM is recreated on another kind of hypervisor, and its snapshots cannot follow" }
      : { disruption: "none", why: "the snapshot follows its VM to the new host; nothing is retaken" },
  description: fixed("live", "the description is edited in place"),
  rollbackOn: ({ after }) =>
    after === undefined
      ? { disruption: "none", why: "recorded only; no rollback is asked for" }
      : { disruption: "reboot", why: "the guest is rolled back to the snapshot: what it did since is lost, and it restarts from the snapshot's state" },
  ...OWNERSHIP_RULES,
  "*": replace("a snapshot is immutable"),
};

/**
 * Containers: what PVE applies to a running container (memory, swap, CPU limits, NICs) is
 * predicted live; the driver reads the pending list back after each write, so what the server
 * still holds back needs a restart whatever the prediction said.
 */
const CONTAINER_RULES: Record<string, Rule> = {
  host: replace("a container belongs to one node here (no container migration yet)"),
  name: fixed("live", "the host name is written to the running container's config"),
  template: replace("the OS template applies only at creation"),
  restoreFrom: replace("the archive applies only at creation"),
  unprivileged: replace("the user mapping of the root file system is fixed at creation"),
  "cpu.cores": fixed("live", "the container's CPU set is changed in place"),
  "cpu.limit": fixed("live", "the CPU ceiling is a cgroup setting changed in place"),
  "cpu.units": fixed("live", "the CPU weight is a cgroup setting changed in place"),
  "memory.sizeMiB": fixed("live", "the memory limit is a cgroup setting changed in place"),
  "memory.swapMiB": fixed("live", "the swap limit is a cgroup setting changed in place"),
  "rootfs.sizeGiB": ({ before, after }) =>
    Number(after) > Number(before)
      ? { disruption: "live", why: "the root file system grows in place" }
      : { disruption: "replace", why: "a root file system cannot shrink; the container would be recreated" },
  "rootfs.pool": replace("the root file system's storage is fixed"),
  "rootfs.volume": replace("the root file system's volume is fixed"),
  "mountPoints.*.sizeGiB": ({ before, after }) =>
    before === undefined || Number(after) > Number(before)
      ? { disruption: "live", why: "the mount point's volume grows in place" }
      : { disruption: "reboot", why: "a volume cannot shrink; the mount point is made again and takes effect at the next start" },
  "mountPoints.*": ({ before, after }) =>
    before === undefined
      ? { disruption: "hotplug", why: "a new mount point is attached to the running container" }
      : { disruption: "reboot", why: after === undefined ? "a mount point is detached at the next start" : "a mount point's options change at the next start" },
  "nics.*": fixed("hotplug", "network interfaces are plugged into the running container"),
  "features.*": fixed("reboot", "container features apply at the next start"),
  sshPublicKeys: fixed("none", "keys are set at creation only; later changes are recorded, not applied"),
  onBoot: fixed("live", "a flag of the container's config"),
  powerState: ({ after }) => ({ disruption: after === "running" ? "live" : "reboot", why: after === "running" ? "the container is started" : "the container is shut down" }),
  updatePolicy: fixed("none", "NovaCron's own setting"),
  ...OWNERSHIP_RULES,
  labels: fixed("live", "labels are kept in the container's description"),
};
const BACKUP_RULES: Record<string, Rule> = {
  host: ({ crossesDriver, old, next }) =>
    crossesDriver || old.guest !== next.guest
      ? { disruption: "replace", why: "a backup of another guest is another backup" }
      : { disruption: "none", why: "the archive stays on its storage" },
  keepOnDestroy: fixed("none", "NovaCron's own setting"),
  "*": replace("a backup is a point in time; a new one is taken"),
};

const RULES: Record<ResourceKind, Record<string, Rule>> = {
  VirtualMachine: VM_RULES,
  StoragePool: POOL_RULES,
  Volume: VOLUME_RULES,
  Network: NETWORK_RULES,
  PassthroughDevice: PASSTHROUGH_RULES,
  Snapshot: SNAPSHOT_RULES,
  Container: CONTAINER_RULES,
  Backup: BACKUP_RULES,
};

/**
 * Classifies every changed field between two normalised specs. `crossesDriver` is true when
 * the host moves to a different hypervisor kind.
 */
export function classifyChange(kind: ResourceKind, old: Record<string, unknown>, next: Record<string, unknown>, caps: HypervisorCapabilities, crossesDriver = false): ChangePlan {
  const rules = RULES[kind];
  const grouped = new Map<string, FieldChange>();
  for (const path of changedPaths(old, next)) {
    if (isUnknown(lookup(next, path))) {
      // Not known until `up`: it may change, as disruptively as the rules for that field say.
      grouped.set(path, unknownChange(kind, rules, path, caps));
      continue;
    }
    const match = matchRule(Object.keys(rules), path);
    if (!match) {
      grouped.set(path, { path, disruption: "replace", why: "no rule covers this field, so the safe choice is made" });
      continue;
    }
    const { pattern, concrete } = match;
    if (grouped.has(concrete)) continue;
    const ctx: RuleContext = { path: concrete, before: lookup(old, concrete), after: lookup(next, concrete), old, next, caps, crossesDriver };
    // VM patterns are bare ("cpu.cores"); other kinds' carry the kind ("Network:vlan").
    const override = caps.changeRules[kind === "VirtualMachine" ? pattern : `${kind}:${pattern}`];
    const answer =
      override === undefined
        ? rules[pattern](ctx)
        : withinCeiling(kind, pattern, ctx, "grow" in override ? (Number(ctx.after) > Number(ctx.before) ? override.grow : override.shrink) : override);
    grouped.set(concrete, { path: concrete, ...answer });
  }
  let changes = [...grouped.values()];
  if (kind === "VirtualMachine" && crossesDriver && old.host !== next.host) changes = changes.map(absorbIntoMove);
  const worst = worstOf(changes.map((c) => c.disruption));
  const replaces = [...new Set(changes.filter((c) => c.disruption === "replace").map((c) => c.path.split(".")[0]))];
  return { changes, worst, replaces };
}

/**
 * In a cross-hypervisor move the VM is defined anew on the target, so other changed fields are
 * set there as part of it; only what would lose data or the guest's boot (replace) keeps its class.
 */
function absorbIntoMove(change: FieldChange): FieldChange {
  if (change.path === "host" || change.disruption === "replace" || change.disruption === "none") return change;
  return { path: change.path, disruption: "migrate", why: absorbedWhy(`${change.disruption}, ${change.why}`) };
}

/**
 * A field whose new value is unknown at preview (it comes from a resource not made yet). Its
 * own rule decides when that rule does not need the value; a whole object (cpu, disks) takes
 * the worst fixed answer among the rules for its parts. Rules that need values are left to
 * `up`, where the value is known and the change is classified again: an unknown never turns
 * into a replace just because no value could be compared.
 */
function unknownChange(kind: ResourceKind, rules: Record<string, Rule>, path: string, caps: HypervisorCapabilities): FieldChange {
  const segments = path.split(".");
  const fixedAnswer = (pattern: string): Disruption | undefined => {
    const override = caps.changeRules[kind === "VirtualMachine" ? pattern : `${kind}:${pattern}`];
    if (override !== undefined) return "grow" in override ? undefined : override.disruption;
    return rules[pattern].constant;
  };
  const own = matchRule(Object.keys(rules), path);
  if (own && own.concrete === path) {
    const answer = fixedAnswer(own.pattern);
    if (answer !== undefined) return { path, disruption: answer, why: `not known until up; if it changes: ${answer}` };
  }
  const parts = Object.keys(rules).filter((pattern) => {
    const p = pattern.split(".");
    return p.length > segments.length && segments.every((s, i) => p[i] === "*" || p[i] === s);
  });
  const answers = parts.map(fixedAnswer).filter((d): d is Disruption => d !== undefined);
  if (answers.length === 0 && !own) return { path, disruption: "replace", why: "not known until up, and no rule covers this field, so the safe choice is made" };
  const worst = answers.length > 0 ? worstOf(answers) : "reboot";
  return { path, disruption: worst, why: `not known until up; if it changes, at most ${worst} by the rules for ${path}'s fields (classified again at up)` };
}

/** Field patterns that always replace the resource, for schema.json's `replaceOnChanges`. */
export function alwaysReplacing(kind: ResourceKind): string[] {
  return Object.entries(RULES[kind])
    .filter(([, rule]) => rule.constant === "replace")
    .map(([pattern]) => pattern);
}

/**
 * Changes that would stop a running guest need the owner's consent: refuse them at preview
 * with the field and the way to allow it.
 */
/** What a restart check needs of a guest: a VM's or a container's power state and update policy. */
type Restartable = { powerState: string; updatePolicy: { allowReboot: boolean } };

export function refuseForbiddenRestarts(plan: ChangePlan, old: Restartable, next: Restartable, guest = "VM"): InputFailure[] {
  if (old.powerState !== "running" || next.powerState !== "running" || next.updatePolicy.allowReboot) return [];
  return plan.changes
    .filter((c) => needsRestart(c.disruption) || c.stopsGuest === true)
    .map((c) => ({
      property: c.path,
      reason: `this change needs the running ${guest} to restart (${c.disruption}: ${c.why}), and updatePolicy.allowReboot is false; set updatePolicy.allowReboot: true to allow it, or set powerState: "stopped" first`,
    }));
}

/** Human summary for previews and the `lastChange` output, e.g. `memory.sizeMiB: live (…)`. */
export function describePlan(plan: ChangePlan): string[] {
  return plan.changes.map((c) => `${c.path}: ${c.disruption} (${c.why})`);
}

/**
 * `cpu.maxVcpus` and `memory.maxMiB` mean the same on every hypervisor: growth up to them is
 * made on the running VM, growth past them needs a restart. The neutral rules check this
 * themselves; a driver's override (e.g. vSphere's hot-add) only decides how growth within the
 * ceiling is made, so growth past it is a reboot whatever the override says. An override that
 * already needs a restart keeps its own reason: it names the real cause (Proxmox's hotplug
 * setting), where "raise the ceiling" would not make the change live.
 */
function withinCeiling(kind: ResourceKind, pattern: string, ctx: RuleContext, answer: { disruption: Disruption; why: string }): { disruption: Disruption; why: string } {
  if (answer.disruption !== "live" && answer.disruption !== "hotplug") return answer;
  return beyondCeiling(kind, pattern, ctx) ?? answer;
}

function beyondCeiling(kind: ResourceKind, pattern: string, ctx: RuleContext): { disruption: Disruption; why: string } | undefined {
  if (kind !== "VirtualMachine") return undefined;
  if (pattern === "cpu.sockets" || pattern === "cpu.cores" || pattern === "cpu.threads") {
    const ceiling = vmCpuCeiling(ctx.old);
    const wanted = vcpuCount(ctx.next as VirtualMachineSpec);
    if (wanted > ceiling) return { disruption: "reboot", why: `${wanted} vCPUs exceed the running maximum of ${ceiling}; raise cpu.maxVcpus ahead of time to hot-add` };
  }
  if (pattern === "memory.sizeMiB") {
    const ceiling = vmMemoryCeiling(ctx.old);
    const wanted = (ctx.next.memory as VirtualMachineSpec["memory"]).sizeMiB;
    if (wanted > ceiling) return { disruption: "reboot", why: `${wanted} MiB exceeds the running maximum of ${ceiling} MiB; raise memory.maxMiB ahead of time to grow live` };
  }
  return undefined;
}

function vmCpuCeiling(vm: Record<string, unknown>): number {
  const spec = vm as VirtualMachineSpec;
  return spec.cpu.maxVcpus ?? vcpuCount(spec);
}

function vmMemoryCeiling(vm: Record<string, unknown>): number {
  const spec = vm as VirtualMachineSpec;
  return spec.memory.maxMiB ?? spec.memory.sizeMiB;
}

/** Paths whose values differ. Arrays compare whole; a key on one side only is one change. */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function lookup(root: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (isPlainObject(node) ? node[key] : undefined), root);
}

/** The longest rule pattern that is a prefix of `path`, and the path cut to that pattern. */
function matchRule(patterns: string[], path: string): { pattern: string; concrete: string } | undefined {
  const segments = path.split(".");
  let best: { pattern: string; concrete: string; score: number } | undefined;
  for (const pattern of patterns) {
    const parts = pattern.split(".");
    if (parts.length > segments.length) continue;
    if (!parts.every((p, i) => p === "*" || p === segments[i])) continue;
    // Longer patterns win; at equal length a literal beats a wildcard.
    const score = parts.length * 2 - (parts.includes("*") ? 1 : 0);
    if (!best || score > best.score) best = { pattern, concrete: segments.slice(0, parts.length).join("."), score };
  }
  return best;
}
