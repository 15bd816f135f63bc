import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { SpecOf } from "../provider/core/model";

/**
 * Ready-made policies for `@pulumi/policy` packs over NovaCron resources. Each is a function
 * taking its settings and returning a policy, so a pack reads as a list of decisions:
 *
 *   new PolicyPack("guardrails", { policies: [vmSizeCeiling({ maxMemoryMiB: 65536, maxVcpus: 32 }), requiredLabels(["team"])] });
 *
 * They read the inputs as check() normalised them, so defaults are already filled in.
 */
type Level = "advisory" | "mandatory";
const TYPE_PREFIX = "pulumi-nodejs:dynamic/novacron:";
const VM_TYPE = `${TYPE_PREFIX}VirtualMachine`;
type Vm = SpecOf<"VirtualMachine"> & { plannedChanges?: string[] };

function onVms(name: string, description: string, level: Level, check: (vm: Vm, report: ReportViolation) => void): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: level,
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      if (args.type === VM_TYPE) check(args.props as Vm, report);
    },
  };
}

const vcpus = (vm: Vm) => (vm.cpu?.sockets ?? 1) * (vm.cpu?.cores ?? 1) * (vm.cpu?.threads ?? 1);

/** No VM bigger than this, counting the hot-add ceilings too. */
export function vmSizeCeiling(opts: { maxMemoryMiB: number; maxVcpus: number; level?: Level }): ResourceValidationPolicy {
  return onVms("novacron-vm-size-ceiling", `VMs stay within ${opts.maxVcpus} vCPUs and ${opts.maxMemoryMiB} MiB`, opts.level ?? "mandatory", (vm, report) => {
    const memory = Math.max(vm.memory?.sizeMiB ?? 0, vm.memory?.maxMiB ?? 0);
    const cpus = Math.max(vcpus(vm), vm.cpu?.maxVcpus ?? 0);
    if (memory > opts.maxMemoryMiB) report(`memory: ${memory} MiB exceeds the ceiling of ${opts.maxMemoryMiB} MiB`);
    if (cpus > opts.maxVcpus) report(`cpu: ${cpus} vCPUs exceed the ceiling of ${opts.maxVcpus}`);
  });
}

/**
 * A VM with passthrough devices must pin its vCPUs and bind its memory to a host NUMA node:
 * a GPU served across the socket interconnect loses much of its bandwidth. Hypervisors that
 * place vCPUs themselves (vSphere refuses pinning) cannot comply: give `hosts`, the host names
 * this applies to (e.g. the KVM ones), and VMs on other hosts are left alone.
 */
export function passthroughNeedsNumaPinning(opts: { level?: Level; hosts?: string[] } = {}): ResourceValidationPolicy {
  return onVms("novacron-passthrough-numa-pinning", "VMs with passthrough devices pin vCPUs and memory to a host NUMA node", opts.level ?? "mandatory", (vm, report) => {
    if (Object.keys(vm.passthrough ?? {}).length === 0) return;
    if (opts.hosts && !opts.hosts.includes(vm.host)) return;
    if (!vm.cpu?.pinning || Object.keys(vm.cpu.pinning).length === 0) report("cpu.pinning: a VM with passthrough devices must pin its vCPUs");
    if (!vm.cpu?.numa?.every((cell) => cell.hostNode !== undefined)) report("cpu.numa: every NUMA cell of a VM with passthrough devices must name its hostNode");
  });
}

/** Where the devices' NUMA nodes are known (after they exist), the VM's cells must sit on them. */
export function passthroughOnDeviceNumaNode(opts: { level?: Level } = {}): StackValidationPolicy {
  return {
    name: "novacron-passthrough-device-numa-node",
    description: "VMs with passthrough devices run on the devices' NUMA node",
    enforcementLevel: opts.level ?? "mandatory",
    validateStack: (args, report) => {
      const nodeOf = new Map<string, number>();
      for (const r of args.resources) {
        const node = (r.props.observed as { numaNode?: number; name?: string } | undefined)?.numaNode;
        const id = (r.props.observed as { name?: string } | undefined)?.name;
        if (r.type === `${TYPE_PREFIX}PassthroughDevice` && id && typeof node === "number") nodeOf.set(id, node);
      }
      for (const r of args.resources.filter((x) => x.type === VM_TYPE)) {
        const vm = r.props as Vm;
        for (const [slot, dev] of Object.entries(vm.passthrough ?? {})) {
          const node = nodeOf.get(dev.device);
          if (node === undefined) continue;
          const off = (vm.cpu?.numa ?? []).filter((cell) => cell.hostNode !== node);
          if (off.length > 0) report(`${r.name}: passthrough.${slot} sits on host NUMA node ${node}, but the VM's cells use node(s) ${off.map((c) => c.hostNode).join(", ")}`);
        }
      }
    },
  };
}

/** Remote consoles (VNC/SPICE) must be password-protected. */
export function consolePasswordRequired(opts: { level?: Level } = {}): ResourceValidationPolicy {
  return onVms("novacron-console-password", "VNC/SPICE consoles have a password", opts.level ?? "mandatory", (vm, report) => {
    if (vm.console && vm.console.kind !== "none" && !vm.console.password) report(`console.password: a ${vm.console.kind} console needs a password`);
  });
}

/** Every NovaCron resource that takes labels carries these keys. */
export function requiredLabels(keys: string[], opts: { level?: Level } = {}): ResourceValidationPolicy {
  return {
    name: "novacron-required-labels",
    description: `NovaCron resources carry the labels ${keys.join(", ")}`,
    enforcementLevel: opts.level ?? "mandatory",
    validateResource: (args, report) => {
      if (!args.type.startsWith(TYPE_PREFIX) || args.props.labels === undefined) return;
      const missing = keys.filter((k) => !(k in (args.props.labels as Record<string, string>)));
      if (missing.length > 0) report(`labels: missing ${missing.join(", ")}`);
    },
  };
}

/**
 * A VM marked `stateful: true` is never replaced: its disks hold data. Reads the planned change
 * classes that check() attaches to every update.
 */
export function noReplaceOfStatefulVms(opts: { level?: Level } = {}): ResourceValidationPolicy {
  return onVms("novacron-no-replace-stateful", "VMs marked stateful are never replaced", opts.level ?? "mandatory", (vm, report) => {
    if (!vm.stateful) return;
    const replacing = (vm.plannedChanges ?? []).filter((line) => /^[^:]+: replace /.test(line));
    if (replacing.length > 0) report(`this change would replace a stateful VM: ${replacing.join("; ")}`);
  });
}

/** Resources may only be placed on these hosts (names from novacron:hosts). */
export function allowedHosts(hosts: string[], opts: { level?: Level } = {}): ResourceValidationPolicy {
  return {
    name: "novacron-allowed-hosts",
    description: `NovaCron resources live on ${hosts.join(", ")} only`,
    enforcementLevel: opts.level ?? "mandatory",
    validateResource: (args, report) => {
      if (!args.type.startsWith(TYPE_PREFIX)) return;
      const host = args.props.host as string | undefined;
      if (host !== undefined && !hosts.includes(host)) report(`host: "${host}" is not an allowed host (allowed: ${hosts.join(", ")})`);
    },
  };
}
