// The neutral model ↔ the vSphere VmSpec. Forward: what to ask vCenter for.
// Reverse: what refresh reports, with fields vSphere cannot express (cache
// modes, slot buses, cloud-init network config, NovaCron's own settings)
// carried over from the last recorded spec, so read-after-create is no diff.
import type { InputFailure } from "../../core/errors";
import type { DiskSpec, NicSpec, VirtualMachineSpec } from "../../core/model";
import { cdromBusForSlot, DiskSlot, HostdevSlot, NicSlot, vcpuCount } from "../../core/model";
import { cdromPosition, isoDatastorePath, isoHostPath } from "./vm/cdrom";
import type { CdromSpec } from "./vm/spec";
import { parseCpuSet } from "../../core/model/common";
import type { z } from "zod";
import { MANUAL_MAC_RANGE, VSPHERE_CAPABILITIES } from "./capabilities";
import type { BootDevice, NetworkBinding, NicAdapter, PassthroughSpec, PowerState, VmSpec, VmState } from "./vm";
import { sameBootOrder } from "./vm/boot-order";

/** A spec field vSphere (through this driver) cannot honour; raised before anything is touched. */
export class UnsupportedSpecError extends Error {
  override name = "UnsupportedSpecError";
  constructor(
    readonly property: string,
    readonly reason: string,
  ) {
    super(`${property}: ${reason}`);
  }
}

/** The datastore a VM's files and blank disks live on: all disks share one (the VM home). */
export function homeDatastore(spec: VirtualMachineSpec, fallback: string | undefined): string {
  const pools = [...new Set(Object.values(spec.disks).flatMap((d) => (d.pool ? [d.pool] : [])))];
  if (pools.length > 1) {
    throw new UnsupportedSpecError("disks", `every new disk of a vSphere VM must name the same pool (datastore); got ${pools.join(", ")}`);
  }
  const volumes = Object.values(spec.disks).flatMap((d) => (d.volume ? [datastoreOf(d.volume)] : []));
  const name = pools[0] ?? fallback ?? volumes[0];
  if (!name) throw new UnsupportedSpecError("disks", "no datastore: give a disk a `pool` (a datastore name) or set `datastore` in the host entry");
  return name;
}

/**
 * The refusals of this module that need no host, for check(): the datastore fallback stands in
 * for the host entry's, which only the apply knows.
 */
export function vmTranslationProblems(spec: VirtualMachineSpec): InputFailure[] {
  try {
    refuseUnbuilt(spec);
    homeDatastore(spec, "stand-in");
  } catch (error) {
    if (error instanceof UnsupportedSpecError) return [{ property: error.property, reason: error.reason }];
    // Anything else is a gap of the stand-ins, not the user's; the apply's translation decides.
  }
  return [];
}

/** Refuses what the capability table accepts but this driver does not build yet. */
function refuseUnbuilt(spec: VirtualMachineSpec): void {
  for (const [slot, disk] of Object.entries(spec.disks)) {
    if (disk.volume && !VMDK_PATH.test(disk.volume)) {
      throw new UnsupportedSpecError(
        `disks.${slot}.volume`,
        `got ${JSON.stringify(disk.volume)}; on vSphere a volume is a Volume id or a VMDK datastore path such as "[LocalDS_0] disks/web.vmdk"`,
      );
    }
  }
  for (const [slot, disk] of Object.entries(spec.disks)) refuseDiskTuning(slot, disk);
  if (spec.memory.balloon?.minMiB !== undefined) {
    throw new UnsupportedSpecError(
      "memory.balloon.minMiB",
      "vSphere's balloon (VMware Tools) stops at the VM's memory reservation, which NovaCron's vSphere driver does not set; leave minMiB unset",
    );
  }
  for (const [slot, nic] of Object.entries(spec.nics)) {
    if (!nic.network) throw new UnsupportedSpecError(`nics.${slot}`, "on vSphere a NIC plugs into a portgroup: set `network` to its name");
    if (nic.queues > 1) {
      throw new UnsupportedSpecError(
        `nics.${slot}.queues`,
        `got ${nic.queues}; vSphere's vmxnet3 sizes its queues with the guest (receive-side scaling), with no per-NIC queue count; leave queues at 1`,
      );
    }
    if (nic.mac) refuseOutOfRangeMac(`nics.${slot}.mac`, nic.mac);
    if (nic.vlan) throw new UnsupportedSpecError(`nics.${slot}.vlan`, "on vSphere the VLAN belongs to the portgroup; pick a portgroup with that VLAN");
  }
  cdromsOf(spec);
  for (const [slot, p] of Object.entries(spec.passthrough)) {
    if (!p.romBar) throw new UnsupportedSpecError(`passthrough.${slot}.romBar`, "vSphere has no per-device ROM BAR switch; leave romBar at its default (true)");
  }
  affinityOf(spec);
  if (spec.cloudInit?.networkConfig) {
    throw new UnsupportedSpecError("cloudInit.networkConfig", "VMware's guestinfo datasource reads network config from metaData; put it there");
  }
}

/**
 * QEMU's per-disk tuning has no vSphere counterpart. Refused rather than dropped, so the preview
 * (and the parity matrix) never shows a setting as taken that the VM would not have.
 */
function refuseDiskTuning(slot: string, disk: VirtualMachineSpec["disks"][string]): void {
  const refuse = (field: string, value: unknown, why: string) => {
    throw new UnsupportedSpecError(`disks.${slot}.${field}`, `got ${JSON.stringify(value)}; ${why}`);
  };
  if (disk.cache !== "none" && disk.cache !== "hypervisor-default") {
    refuse("cache", disk.cache, "ESXi does not cache virtual disk I/O on the host and has no per-disk cache mode; leave cache unset (none)");
  }
  if (disk.io !== undefined) refuse("io", disk.io, "ESXi has no per-disk I/O mode (native, threads and io_uring are QEMU's); leave io unset");
  if (disk.iothread !== undefined) refuse("iothread", disk.iothread, "vSphere has no per-disk I/O threads; leave iothread unset");
  if (disk.discard !== undefined) {
    refuse("discard", disk.discard, "vSphere passes a guest's UNMAP to thin disks (NovaCron makes thin disks) by itself, with no per-disk switch; leave discard unset");
  }
  if (disk.detectZeroes !== undefined) refuse("detectZeroes", disk.detectZeroes, "vSphere has no per-disk zero detection; leave detectZeroes unset");
  if (disk.readOnly) refuse("readOnly", true, "vSphere has no read-only virtual disk mode; leave readOnly false");
}

/**
 * Also checked at preview through the capability table; repeated here because a spec can reach
 * the driver without check() (an adopted VM converged by create).
 */
function refuseOutOfRangeMac(property: string, mac: string): void {
  const range = MANUAL_MAC_RANGE;
  const normal = mac.toLowerCase();
  if (normal < range.first || normal > range.last) {
    throw new UnsupportedSpecError(property, `got "${mac}"; vSphere accepts fixed MAC addresses only from ${range.first} to ${range.last} (${range.why})`);
  }
}

/** "[datastore] folder/name.vmdk", the form vSphere names disk files in. */
export const VMDK_PATH = /^\[([^\]]+)\] \S.*\.vmdk$/;

function datastoreOf(path: string): string {
  return VMDK_PATH.exec(path)?.[1] ?? "";
}

/**
 * CD-ROM drives by slot at their vSphere position. An image is an ISO on a datastore, written as
 * the ESXi host mounts it: /vmfs/volumes/<datastore>/<path>.iso.
 */
function cdromsOf(spec: VirtualMachineSpec): Record<string, CdromSpec> | undefined {
  if (spec.cdroms === undefined) return undefined;
  const out: Record<string, CdromSpec> = {};
  for (const [slot, cdrom] of Object.entries(spec.cdroms)) {
    const at = cdromPosition(slot, cdrom.bus ?? cdromBusForSlot(slot));
    if (typeof at === "string") throw new UnsupportedSpecError(`cdroms.${slot}`, at);
    if (cdrom.bootOrder !== undefined) throw new UnsupportedSpecError(`cdroms.${slot}.bootOrder`, "the vSphere driver does not set a CD-ROM boot order yet; leave it unset");
    const iso = cdrom.image === undefined ? undefined : isoDatastorePath(cdrom.image);
    if (cdrom.image !== undefined && iso === undefined) {
      throw new UnsupportedSpecError(
        `cdroms.${slot}.image`,
        `got ${JSON.stringify(cdrom.image)}; on vSphere an ISO lives on a datastore: write it as /vmfs/volumes/<datastore>/<path>.iso`,
      );
    }
    out[slot] = { ...at, ...(iso !== undefined ? { iso } : {}) };
  }
  return out;
}

/**
 * vSphere's CPU scheduling affinity is one host CPU set for all of a VM's vCPUs, so `cpu.pinning`
 * translates when every vCPU is given the same set (which may name several host CPUs).
 */
function affinityOf(spec: VirtualMachineSpec): number[] | undefined {
  const pinning = spec.cpu.pinning;
  if (!pinning || Object.keys(pinning).length === 0) return undefined;
  const sets = Object.entries(pinning);
  const cpus = parseCpuSet(sets[0]![1]);
  const vcpus = vcpuCount(spec);
  const same = sets.every(([, set]) => sameSet(parseCpuSet(set), cpus));
  if (!same || sets.length !== vcpus) {
    throw new UnsupportedSpecError(
      "cpu.pinning",
      `got ${JSON.stringify(pinning)}; vSphere's scheduling affinity restricts all vCPUs of a VM to one host CPU set, so give each of the ${vcpus} vCPUs the same set, e.g. ${JSON.stringify(Object.fromEntries(Array.from({ length: vcpus }, (_, i) => [String(i), sets[0]![1]])))}`,
    );
  }
  return cpus;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** vSphere's own adapters by name; any other model (virtio, the default) is the paravirtual vmxnet3. */
const ADAPTERS: readonly NicAdapter[] = ["vmxnet3", "e1000e", "e1000", "vmxnet2"];

function adapterOf(model: NicSpec["model"]): NicAdapter {
  return (ADAPTERS as readonly string[]).includes(model) ? (model as NicAdapter) : "vmxnet3";
}

/**
 * A PassthroughDevice id on vSphere: the ESXi host's managed object id and the device there — a
 * PCI address, "host-21/0000:3b:00.0", or "usb:" and a USB port path, "host-21/usb:1/0/1". A
 * device is only meaningful on its own host.
 */
export function passthroughDeviceId(hostId: string, deviceId: string): string {
  return `${hostId}/${deviceId}`;
}

export function parsePassthroughDeviceId(id: string): { hostId: string; deviceId: string; kind: "pci" | "usb" } | undefined {
  const pci = /^([^/]+)\/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i.exec(id);
  if (pci) return { hostId: pci[1]!, deviceId: pci[2]!.toLowerCase(), kind: "pci" };
  const usb = /^([^/]+)\/(usb:[0-9][0-9/.]*)$/.exec(id);
  return usb ? { hostId: usb[1]!, deviceId: usb[2]!, kind: "usb" } : undefined;
}

/**
 * Model → VmSpec. `networks` holds each NIC slot's resolved portgroup, `passthrough` each
 * passthrough slot's resolved host device.
 */
export function toVmSpec(spec: VirtualMachineSpec, networks: Readonly<Record<string, NetworkBinding>>, passthrough: Readonly<Record<string, PassthroughSpec>> = {}): VmSpec {
  refuseUnbuilt(spec);
  const vcpus = vcpuCount(spec);
  return {
    name: spec.name,
    numCPUs: vcpus,
    numCoresPerSocket: coresPerSocket(spec),
    memoryMB: spec.memory.sizeMiB,
    // vSphere has no vCPU/memory ceiling, only the hot-add switch: a ceiling is the wish to grow
    // live up to it. Reaching the ceiling keeps the switch on (flipping it needs a power-off).
    cpuHotAddEnabled: cpuHotAdd(spec),
    memoryHotAddEnabled: memoryHotAdd(spec),
    scsiController: "pvscsi",
    disks: Object.fromEntries(
      Object.entries(spec.disks).map(([slot, d]) => [slot, d.volume ? { sizeGiB: 0, file: d.volume } : { sizeGiB: d.sizeGiB!, provisioning: "thin" as const }]),
    ),
    nics: Object.fromEntries(Object.entries(spec.nics).map(([slot, n]) => [slot, { network: networks[slot]!, adapter: adapterOf(n.model), macAddress: n.mac }])),
    passthrough: Object.fromEntries(Object.keys(spec.passthrough).map((slot) => [slot, passthrough[slot]!])),
    // vSphere powers on a VM with DirectPath I/O only with all its memory reserved; NovaCron owns
    // this switch. USB devices need no reservation (a slot not resolved yet counts as PCI).
    memoryReservationLockedToMax: Object.keys(spec.passthrough).some((slot) => passthrough[slot]?.kind !== "usb"),
    firmware: spec.firmware.type === "uefi" ? "efi" : "bios",
    secureBoot: spec.firmware.type === "uefi" ? spec.firmware.secureBoot : undefined,
    bootOrder: bootOrderOf(spec),
    tpm: spec.firmware.tpm,
    cpuAffinity: affinityOf(spec),
    // No cdroms in the spec: drives made in vCenter are left alone; {} removes them all.
    cdroms: cdromsOf(spec),
    cloudInit: spec.cloudInit ? { userData: spec.cloudInit.userData, metaData: spec.cloudInit.metaData } : undefined,
    owner: spec.name,
    labels: spec.labels,
  };
}

/** Disks and NICs by their `bootOrder`, lowest first: the model numbers both in one sequence. */
export function bootOrderOf(spec: Pick<VirtualMachineSpec, "disks" | "nics">): BootDevice[] {
  const entries = [
    ...Object.entries(spec.disks).flatMap(([slot, d]) => (d.bootOrder === undefined ? [] : [{ kind: "disk" as const, slot, n: d.bootOrder }])),
    ...Object.entries(spec.nics).flatMap(([slot, n]) => (n.bootOrder === undefined ? [] : [{ kind: "nic" as const, slot, n: n.bootOrder }])),
  ];
  return entries.sort((a, b) => a.n - b.n || a.kind.localeCompare(b.kind) || a.slot.localeCompare(b.slot)).map(({ kind, slot }) => ({ kind, slot }));
}

/**
 * The boot order read back onto the slots: the recorded numbers while they still give vSphere's
 * order (a refresh shows no change), else positions 1, 2, … in vSphere's order.
 */
function withBootOrder(disks: Record<string, DiskSpec>, nics: Record<string, NicSpec>, booted: readonly BootDevice[], last: VirtualMachineSpec): void {
  const known = booted.filter((b) => (b.kind === "disk" ? b.slot in disks : b.slot in nics));
  const same = sameBootOrder(bootOrderOf(last), known);
  const number = (kind: BootDevice["kind"], slot: string, recorded: number | undefined) => {
    if (same) return recorded;
    const at = known.findIndex((b) => b.kind === kind && b.slot === slot);
    return at < 0 ? undefined : at + 1;
  };
  for (const [slot, d] of Object.entries(disks)) disks[slot] = withOrder(d, number("disk", slot, last.disks[slot]?.bootOrder));
  for (const [slot, n] of Object.entries(nics)) nics[slot] = withOrder(n, number("nic", slot, last.nics[slot]?.bootOrder));
}

/** The device with this boot order, or without the key at all (state holds no undefined values). */
function withOrder<T extends { bootOrder?: number }>(device: T, bootOrder: number | undefined): T {
  const out = { ...device };
  if (bootOrder === undefined) delete out.bootOrder;
  else out.bootOrder = bootOrder;
  return out;
}

/** CPU hot-add is on exactly when the spec sets a vCPU ceiling. */
export function cpuHotAdd(spec: Pick<VirtualMachineSpec, "cpu">): boolean {
  return spec.cpu.maxVcpus !== undefined;
}

export function memoryHotAdd(spec: Pick<VirtualMachineSpec, "memory">): boolean {
  return spec.memory.maxMiB !== undefined;
}

/**
 * vSphere hot-adds CPUs only as whole sockets and keeps cores per socket while the VM runs. With
 * hot-add on, each vSphere socket is one core of `cpu.threads` threads, so every vCPU count the
 * model can ask for (sockets × cores × threads) is whole sockets and a change of `cores` or
 * `sockets` is a hot-add. Without hot-add the model's topology is kept: `sockets` sockets of
 * `cores × threads`.
 */
export function coresPerSocket(spec: Pick<VirtualMachineSpec, "cpu">): number {
  return cpuHotAdd(spec) ? spec.cpu.threads : spec.cpu.cores * spec.cpu.threads;
}

/**
 * The cores per socket to send in an update: a running VM with hot-add keeps the ones it has when
 * the new vCPU count is whole sockets of them (a VM made before the rule above, or edited in
 * vCenter), since changing them would need a power-off the plan did not announce.
 */
export function keptCoresPerSocket(have: VmSpec, want: VmSpec): number | undefined {
  const current = have.numCoresPerSocket ?? 1;
  if (have.cpuHotAddEnabled && want.cpuHotAddEnabled && want.numCPUs % current === 0) return current;
  return want.numCoresPerSocket;
}

export function powerStateOf(state: PowerState): VirtualMachineSpec["powerState"] {
  return state === "poweredOn" ? "running" : state === "suspended" ? "paused" : "stopped";
}

/** What a NIC's backing is called in a spec: the portgroup name we resolved it from, when it still matches. */
export type NetworkNamer = (slot: string, binding: NetworkBinding) => string;

/**
 * VmState → model, for refresh and drift. `home` is the VM's datastore name,
 * reported as the pool of disks the last spec does not know.
 */
/**
 * Devices added outside NovaCron carry placeholder slots from the device index (`scsi:1000:3`,
 * `nic0`, `pci0`); the model, and so the state, takes only its own slot names. Each such device
 * gets the first free one, e.g. `scsi4`, so a refresh records it as drift instead of a state
 * that no later read or update could parse.
 */
function withModelSlots<T>(devices: Readonly<Record<string, T>>, slotName: z.ZodType<string>, prefix: string): Record<string, T> {
  const out: Record<string, T> = {};
  const foreign: T[] = [];
  for (const [slot, device] of Object.entries(devices)) {
    if (slotName.safeParse(slot).success) out[slot] = device;
    else foreign.push(device);
  }
  for (let n = 0; foreign.length > 0; n++) {
    if (!(`${prefix}${n}` in out)) out[`${prefix}${n}`] = foreign.shift()!;
  }
  return out;
}

export function observedSpec(state: VmState, last: VirtualMachineSpec, home: string, networkName: NetworkNamer): VirtualMachineSpec {
  const have = state.spec;
  const disks: Record<string, DiskSpec> = {};
  for (const [slot, d] of Object.entries(withModelSlots(have.disks, DiskSlot, "scsi"))) {
    const recorded = last.disks[slot];
    const file = state.diskFiles[slot];
    // An attached volume is known by its file; another file in its place shows as drift.
    const source =
      recorded?.volume !== undefined
        ? { volume: file ?? recorded.volume, pool: undefined, sizeGiB: undefined }
        : { volume: undefined, pool: recorded?.pool ?? home, sizeGiB: d.sizeGiB };
    disks[slot] = { ...(recorded ?? { cache: "none", readOnly: false }), bus: recorded?.bus ?? "virtio-scsi", ...source };
  }
  const nics: Record<string, NicSpec> = {};
  for (const [slot, n] of Object.entries(withModelSlots(have.nics, NicSlot, "net"))) {
    const recorded = last.nics[slot];
    const sameFamily = recorded !== undefined && adapterOf(recorded.model) === n.adapter;
    nics[slot] = {
      ...(recorded ?? { queues: 1 }),
      // An adapter added in vCenter is recorded as what it is: anything else would be an adapter
      // change the next update cannot make in place.
      model: sameFamily ? recorded.model : (n.adapter ?? "vmxnet3"),
      network: networkName(slot, n.network),
      // Only a manual address is the spec's; a generated one is an output (macAddresses).
      mac: n.macAddress,
    };
  }
  const passthrough: VirtualMachineSpec["passthrough"] = {};
  for (const [slot, p] of Object.entries(withModelSlots(have.passthrough ?? {}, HostdevSlot, "hostdev"))) {
    const recorded = last.passthrough[slot];
    // The recorded id when it still names this device, so a refresh shows no change.
    const same = recorded !== undefined && parsePassthroughDeviceId(recorded.device)?.deviceId === p.id;
    passthrough[slot] = same ? recorded : { device: passthroughDeviceId(state.host?.value ?? "unknown-host", p.id), romBar: true };
  }
  withBootOrder(disks, nics, have.bootOrder ?? [], last);
  const wantedCpuHotAdd = cpuHotAdd(last);
  const wantedMemHotAdd = memoryHotAdd(last);
  const efi = have.firmware === "efi";
  const ci = have.cloudInit;
  const sameCloudInit = ci !== undefined && last.cloudInit !== undefined && ci.userData === last.cloudInit.userData && ci.metaData === last.cloudInit.metaData;
  return {
    ...last,
    name: have.name,
    cpu: {
      ...last.cpu,
      ...observedTopology(have, last),
      pinning: observedPinning(have, last),
      // A hot-add switch flipped out of band shows as a ceiling change: the vSphere limit when on, none when off.
      maxVcpus: have.cpuHotAddEnabled === wantedCpuHotAdd ? last.cpu.maxVcpus : have.cpuHotAddEnabled ? VSPHERE_CAPABILITIES.limits.maxVcpus : undefined,
    },
    memory: {
      ...last.memory,
      sizeMiB: have.memoryMB,
      maxMiB: have.memoryHotAddEnabled === wantedMemHotAdd ? last.memory.maxMiB : have.memoryHotAddEnabled ? VSPHERE_CAPABILITIES.limits.maxMemoryMiB : undefined,
    },
    disks,
    nics,
    passthrough,
    cdroms: observedCdroms(have.cdroms ?? {}, last),
    firmware: { type: efi ? "uefi" : "bios", secureBoot: efi && have.secureBoot === true, tpm: have.tpm ?? last.firmware.tpm },
    cloudInit: sameCloudInit ? last.cloudInit : ci ? { userData: ci.userData ?? "", metaData: ci.metaData } : undefined,
    powerState: powerStateOf(state.powerState),
    labels: { ...(have.labels ?? {}) },
  };
}

/** The drives as the model writes them; the recorded entry when it still says the same. */
function observedCdroms(have: Readonly<Record<string, CdromSpec>>, last: VirtualMachineSpec): VirtualMachineSpec["cdroms"] {
  // A program that never wrote cdroms does not manage drives: ones made in vCenter stay theirs.
  if (last.cdroms === undefined) return undefined;
  const out: NonNullable<VirtualMachineSpec["cdroms"]> = {};
  for (const [slot, d] of Object.entries(have)) {
    const recorded = last.cdroms?.[slot];
    const image = d.iso === undefined ? undefined : (isoHostPath(d.iso) ?? d.iso);
    out[slot] = { ...(recorded?.bus !== undefined ? { bus: recorded.bus } : {}), ...(image !== undefined ? { image } : {}) };
  }
  return out;
}

/**
 * The affinity as pinning: the last spec's text while it names the same CPUs, else every vCPU
 * given the set vCenter reports (one set for all, as vSphere has it).
 */
function observedPinning(have: VmSpec, last: VirtualMachineSpec): VirtualMachineSpec["cpu"]["pinning"] {
  const cpus = have.cpuAffinity;
  if (!cpus || cpus.length === 0) return undefined;
  const wanted = (() => {
    try {
      return affinityOf(last);
    } catch {
      return undefined;
    }
  })();
  if (wanted && sameSet(wanted, cpus)) return last.cpu.pinning;
  return Object.fromEntries(Array.from({ length: have.numCPUs }, (_, i) => [String(i), cpus.join(",")]));
}

/**
 * The model's topology for what vSphere reports. With hot-add on, vSphere's sockets are the
 * hot-add unit rather than the model's (see coresPerSocket), so only the vCPU count is vSphere's:
 * the last spec's shape when it still multiplies to that count, else its sockets and threads
 * with the cores that make the count up, else one socket of that many cores. Without hot-add the
 * sockets and cores per socket are read as they are.
 */
function observedTopology(have: VmSpec, last: VirtualMachineSpec): Pick<VirtualMachineSpec["cpu"], "sockets" | "cores" | "threads"> {
  const vcpus = have.numCPUs;
  const { sockets, threads } = last.cpu;
  if (have.cpuHotAddEnabled) {
    if (vcpus % (sockets * threads) === 0) return { sockets, cores: vcpus / (sockets * threads), threads };
    return { sockets: 1, cores: vcpus, threads: 1 };
  }
  const perSocket = have.numCoresPerSocket ?? 1;
  const kept = perSocket % threads === 0 ? threads : 1;
  return { sockets: Math.max(1, Math.round(vcpus / perSocket)), cores: perSocket / kept, threads: kept };
}
