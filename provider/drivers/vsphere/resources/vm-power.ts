// Power convergence and the vSphere rules for what a running VM can take.
import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import { getProperties, text, type MoRef, type VimClient } from "../soap";
import { powerOff, powerOn, powerState, shutdownGuest, suspend, type VmSpec } from "../vm";

export function taskOptions(ctx: OperationContext): { timeoutMs: number } {
  return { timeoutMs: Math.max(1000, ctx.deadline - Date.now()) };
}

export async function applyPowerState(client: VimClient, vm: MoRef, spec: VirtualMachineSpec, ctx: OperationContext): Promise<void> {
  const opts = taskOptions(ctx);
  if (spec.powerState === "running") {
    if ((await powerState(client, vm)) !== "poweredOn") ctx.progress("powering on");
    await powerOn(client, vm, opts);
  } else if (spec.powerState === "paused") {
    await suspend(client, vm, opts);
  } else {
    await stop(client, vm, spec, ctx);
  }
}

/** Guest shutdown through VMware Tools within the spec's timeout, else power-off. */
export async function stop(client: VimClient, vm: MoRef, spec: VirtualMachineSpec, ctx: OperationContext): Promise<"guest" | "forced" | "already"> {
  const state = await powerState(client, vm);
  if (state === "poweredOff") return "already";
  // A suspended VM has no running guest to ask.
  if (state === "suspended") {
    await powerOff(client, vm, taskOptions(ctx));
    return "forced";
  }
  const timeoutMs = Math.min(spec.updatePolicy.shutdownTimeoutSeconds * 1000, Math.max(0, ctx.deadline - Date.now()));
  const how = await shutdownGuest(client, vm, { timeoutMs });
  ctx.progress(how === "guest" ? "guest shut down" : "powered off (no VMware Tools, or the guest did not stop in time)");
  return how;
}

/**
 * Why the change cannot be made while the VM runs, or undefined when it can.
 * vSphere adds CPUs and memory live only with hot-add switched on, never
 * removes them live, and changes topology, hot-add and firmware powered off.
 */
export function powerOffReason(have: VmSpec, want: VmSpec): string | undefined {
  if ((want.numCoresPerSocket ?? 1) !== (have.numCoresPerSocket ?? 1)) return "cores per socket change only while powered off";
  if (want.cpuHotAddEnabled !== have.cpuHotAddEnabled) return "CPU hot-add is switched while powered off (cpu.maxVcpus)";
  if (want.memoryHotAddEnabled !== have.memoryHotAddEnabled) return "memory hot-add is switched while powered off (memory.maxMiB)";
  if (want.numCPUs < have.numCPUs) return "vCPUs are removed only while powered off";
  if (want.numCPUs > have.numCPUs && !have.cpuHotAddEnabled) return "vCPUs are added live only with CPU hot-add (set cpu.maxVcpus)";
  if (want.numCPUs % (have.numCoresPerSocket ?? 1) !== 0) return "vCPUs are hot-added only as whole sockets";
  if (want.memoryMB < have.memoryMB) return "memory shrinks only while powered off";
  if (want.memoryMB > have.memoryMB && !have.memoryHotAddEnabled) return "memory grows live only with memory hot-add (set memory.maxMiB)";
  if ((want.firmware ?? "bios") !== (have.firmware ?? "bios")) return "firmware changes only while powered off";
  if (want.secureBoot !== undefined && want.secureBoot !== (have.secureBoot ?? false)) return "secure boot changes only while powered off";
  const havePci = have.passthrough ?? {};
  const wantPci = want.passthrough ?? {};
  for (const slot of new Set([...Object.keys(havePci), ...Object.keys(wantPci)])) {
    if (havePci[slot]?.id !== wantPci[slot]?.id) return `passthrough device ${slot} is added or removed only while powered off`;
  }
  for (const [slot, nic] of Object.entries(want.nics)) {
    const current = have.nics[slot];
    if (current && current.macAddress !== nic.macAddress) return `the MAC address of NIC ${slot} changes only while powered off`;
  }
  if (want.tpm !== undefined && want.tpm !== (have.tpm ?? false)) return "the vTPM is added or removed only while powered off";
  // The plan makes a pinning change a restart (it takes effect at the next start).
  const affinity = (cpus: readonly number[] | undefined) => (cpus ?? []).join(",");
  if (affinity(want.cpuAffinity) !== affinity(have.cpuAffinity)) return "CPU affinity is applied by a power cycle";
  // Drives come and go powered off, as the plan says; changing the disc in one is live.
  if (want.cdroms !== undefined) {
    const slots = (x: Readonly<Record<string, unknown>> | undefined) =>
      Object.keys(x ?? {})
        .sort()
        .join(",");
    if (slots(want.cdroms) !== slots(have.cdroms)) return "CD-ROM drives are added or removed only while powered off";
  }
  return undefined;
}

/** Waits for VMware Tools to report a guest address. */
export async function waitForIp(client: VimClient, vm: MoRef, timeoutSeconds: number, ctx: OperationContext): Promise<string> {
  const until = Math.min(ctx.deadline, Date.now() + timeoutSeconds * 1000);
  ctx.progress(`waiting for an IP address from VMware Tools (up to ${timeoutSeconds}s)`);
  for (let wait = 500; ; wait = Math.min(wait * 2, 5000)) {
    const ip = text((await getProperties(client, vm, ["guest.ipAddress"])).props.get("guest.ipAddress"));
    if (ip) return ip;
    if (Date.now() + wait > until) break;
    await new Promise((r) => setTimeout(r, wait));
  }
  throw new Error(
    `VMware Tools reported no IP address within ${timeoutSeconds}s; the VM is running — check that the guest runs VMware Tools (open-vm-tools), or raise waitForIp.timeoutSeconds`,
  );
}
