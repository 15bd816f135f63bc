// The unified VM model ↔ a qemu-server config. Facts from PVE 9.1's API schema
// (../shared/contracts/proxmox-ve-api.json, POST /nodes/{node}/qemu) and qemu-server's docs:
// `memory` is MiB, `balloon` the minimum the balloon may take (0 disables it), `cpu` absent is
// PVE's default model, drives are `volume,opt=value`, NICs `model=MAC,bridge=…,tag=…`.
import type { InputFailure } from "../../../core/errors";
import type { DiskSpec, NicSpec, VirtualMachineSpec } from "../../../core/model";
import { busForSlot } from "../../../core/model";
import { CLOUDINIT_DRIVE, cloudInitDeletes, cloudInitFromConfig, cloudInitKeys, isCloudInitDrive } from "./cloud-init";
import { descriptionFor, labelsOf, withOwnerTag } from "./marker";
import { formatProps, parseProps, sizeToGiB } from "./property-string";
import { restoreProblems } from "./restore";
import { containsUnknown } from "../../../core/unknown";
import { isPveDiskKey, modelDiskSlot, pveDiskKey, slotProblem } from "./slots";
import { ceilingProblem, cpuFromConfig, cpuTopology, hotplugWith, maxMiBFromConfig, memoryCeilingProblem, memoryHotplug } from "./hotplug";
import { placementDeletes, placementFromConfig, placementProblems, setPlacement } from "./placement";

type Spec = VirtualMachineSpec;
export type PveConfig = Record<string, string | number | undefined>;

const NIC_MODELS = ["virtio", "e1000e", "vmxnet3", "rtl8139"] as const;
/** Every NIC model key PVE knows (the `model` enum of net[n]), to find the model=MAC pair. */
const PVE_NIC_MODELS = new Set([
  "e1000",
  "e1000-82540em",
  "e1000-82544gc",
  "e1000-82545em",
  "e1000e",
  "i82551",
  "i82557b",
  "i82559er",
  "ne2k_isa",
  "ne2k_pci",
  "pcnet",
  "rtl8139",
  "virtio",
  "vmxnet3",
]);
/** PVE takes 16 host PCI devices per VM (hostpci0-hostpci15). */
const MAX_HOSTPCI = 16;
/** A resource mapping's name: PVE's `pve-configid`. */
const MAPPING_ID = /^[a-z][a-z0-9_]+$/i;

/** hostdevN → hostpciN, within PVE's 16. */
export function hostpciKey(slot: string): string | undefined {
  const n = /^hostdev(\d+)$/.exec(slot)?.[1];
  // hostdev03 would read back as hostdev3: only the plain spelling is taken.
  return n !== undefined && String(Number(n)) === n && Number(n) < MAX_HOSTPCI ? `hostpci${n}` : undefined;
}

/** A VM's use of a mapped PCI device: the mapping, PCIe on a q35 machine (PVE refuses pcie on i440fx), the ROM BAR only when turned off (on is PVE's default). */
function hostpciValue(dev: Spec["passthrough"][string], machine: string, kept: Map<string, string>): string {
  const props = new Map(kept);
  for (const k of ["host", "mapping", "pcie", "rombar"]) props.delete(k);
  return formatProps(undefined, [["mapping", dev.device], ["pcie", machine.startsWith("q35") ? 1 : undefined], ["rombar", dev.romBar ? undefined : 0], ...props]);
}

/** PVE's `dns-name` format for the VM name. */
const DNS_NAME = /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

/**
 * What this driver cannot express, found without a host (check() runs it at preview). Fields
 * Proxmox VE could take but this driver does not translate yet say "not yet".
 */
export function vmProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  const fail = (property: string, reason: string) => out.push({ property, reason });
  const notYet = (property: string, what: string) => fail(property, `${what} is not translated by NovaCron's Proxmox driver yet; remove it for a proxmox host`);
  if (!DNS_NAME.test(spec.name)) fail("name", `got "${spec.name}"; Proxmox VE takes a DNS name (letters, digits and -, dot-separated), no _`);
  if (spec.cpu.threads !== 1) fail("cpu.threads", `got ${spec.cpu.threads}; Proxmox VE has no threads-per-core setting (sockets × cores only)`);
  const ceiling = ceilingProblem(spec);
  if (ceiling) fail("cpu.maxVcpus", ceiling);
  placementProblems(spec, fail);
  const memoryCeiling = memoryCeilingProblem(spec);
  if (memoryCeiling) fail("memory.maxMiB", memoryCeiling);
  for (const [slot, disk] of Object.entries(spec.disks)) {
    const key = pveDiskKey(slot);
    if (!key) fail(`disks.${slot}`, `slot "${slot}" is ${slotProblem(slot)}`);
    else if (disk.bus !== busForSlot(slot))
      fail(
        `disks.${slot}.bus`,
        `got "${disk.bus}"; on Proxmox VE the slot decides the bus, and "${slot}" is ${busForSlot(slot)} (use scsiN or sdX for virtio-scsi, vdX for virtio-blk, sataN for sata)`,
      );
    if (disk.iothread !== undefined && disk.iothread !== 1)
      fail(`disks.${slot}.iothread`, `got ${disk.iothread}; Proxmox VE gives each drive its own iothread or none, so only 1 is accepted`);
    if (disk.readOnly && key?.startsWith("sata")) fail(`disks.${slot}.readOnly`, "Proxmox VE sets read-only only on scsi and virtio drives");
    if (disk.sizeGiB !== undefined && !Number.isInteger(disk.sizeGiB)) fail(`disks.${slot}.sizeGiB`, `got ${disk.sizeGiB}; Proxmox VE allocates whole GiB`);
    if (disk.format === "vmdk" && disk.pool !== undefined) fail(`disks.${slot}.format`, "NovaCron's Proxmox driver makes raw or qcow2 disks");
  }
  for (const [slot, nic] of Object.entries(spec.nics)) {
    if (nic.sriovPool) notYet(`nics.${slot}.sriovPool`, "an SR-IOV function (hostpci mapping)");
    if (nic.queues > 64) fail(`nics.${slot}.queues`, `got ${nic.queues}; Proxmox VE takes at most 64 queues`);
  }
  for (const [slot, dev] of Object.entries(spec.passthrough)) {
    if (hostpciKey(slot) === undefined)
      fail(`passthrough.${slot}`, `slot "${slot}" is outside Proxmox VE's hostpci0-hostpci${MAX_HOSTPCI - 1}: use hostdev0-hostdev${MAX_HOSTPCI - 1}`);
    if (!containsUnknown(dev.device) && !MAPPING_ID.test(dev.device))
      fail(`passthrough.${slot}.device`, `got "${dev.device}"; on Proxmox VE this is a PassthroughDevice's id, the name of a PCI resource mapping such as "nc_pve1_0000_01_00_0"`);
  }
  for (const doc of ["userData", "metaData", "networkConfig"] as const) {
    if (spec.cloudInit?.[doc] !== undefined) {
      notYet(`cloudInit.${doc}`, "a cloud-init document (PVE reads those only from cicustom snippet files on the node); use cloudInit.user, sshKeys and ipConfig");
    }
  }
  if (spec.cloudInit && efiStorage(spec) === undefined) {
    fail("cloudInit", "Proxmox VE writes the cloud-init image to a cloudinit drive on the storage of the first disk; give the VM a disk with `pool` or a volume id (storage:name)");
  }
  if (spec.console.password !== undefined) fail("console.password", "Proxmox VE's consoles are reached through its API tickets; a console password cannot be set");
  if (spec.firmware.type === "uefi" && efiStorage(spec) === undefined) {
    fail("firmware.type", "UEFI needs an EFI vars disk, made on the storage of the first disk; give the VM a disk with `pool` or a volume id (storage:name)");
  }
  if (spec.waitForIp) notYet("waitForIp", "waiting for an address (through the QEMU guest agent)");
  out.push(...restoreProblems(spec));
  return out;
}

/** The storage the EFI vars and TPM state go on (and a restore's disks): the first disk's. */
export function efiStorage(spec: Spec): string | undefined {
  for (const slot of Object.keys(spec.disks).sort()) {
    const disk = spec.disks[slot];
    const storage = disk.pool ?? (disk.volume?.includes(":") ? disk.volume.split(":")[0] : undefined);
    if (storage) return storage;
  }
  return undefined;
}

/** The config keys a spec sets, and for each the model field it came from (to name it in PVE's errors). */
export interface PveParams {
  params: Record<string, string | number>;
  origin: Record<string, string>;
}

/** The full config of a new VM (POST /nodes/{node}/qemu, besides vmid). */
export function createParams(spec: Spec): PveParams {
  const out: PveParams = { params: {}, origin: {} };
  const set = (key: string, value: string | number, origin: string) => {
    out.params[key] = value;
    out.origin[key] = origin;
  };
  set("name", spec.name, "name");
  setScalars(spec, set, undefined);
  set("tags", withOwnerTag(undefined), "labels");
  set("description", descriptionFor(spec.labels), "labels");
  if (Object.keys(spec.disks).some((slot) => pveDiskKey(slot)?.startsWith("scsi"))) set("scsihw", "virtio-scsi-single", "disks");
  for (const [slot, disk] of Object.entries(spec.disks)) {
    const key = pveDiskKey(slot)!;
    const source = disk.volume ?? `${disk.pool}:${disk.sizeGiB}`;
    set(key, driveValue(source, disk, new Map()), `disks.${slot}`);
  }
  for (const [slot, nic] of Object.entries(spec.nics)) set(slot, nicValue(nic, undefined, new Map()), `nics.${slot}`);
  for (const [slot, dev] of Object.entries(spec.passthrough)) set(hostpciKey(slot)!, hostpciValue(dev, spec.machine, new Map()), `passthrough.${slot}.device`);
  const storage = efiStorage(spec);
  if (spec.firmware.type === "uefi" && storage) {
    set("efidisk0", `${storage}:1,efitype=4m,pre-enrolled-keys=${spec.firmware.secureBoot ? 1 : 0}`, "firmware");
  }
  if (spec.firmware.tpm && storage) set("tpmstate0", `${storage}:1,version=v2.0`, "firmware.tpm");
  if (spec.cloudInit && storage) {
    cloudInitKeys(spec.cloudInit, set, true);
    set(CLOUDINIT_DRIVE, `${storage}:cloudinit`, "cloudInit");
  }
  const boot = bootOrder(spec);
  if (boot) set("boot", boot, "disks");
  return out;
}

/** Keys with one plain value: CPU, memory, firmware, machine, display. `hotplug` is the current one (undefined on create). */
function setScalars(spec: Spec, set: (key: string, value: string | number, origin: string) => void, hotplug: string | number | undefined): void {
  set("machine", spec.machine, "machine");
  const topology = cpuTopology(spec);
  set("sockets", topology.sockets, "cpu.sockets");
  set("cores", topology.cores, spec.cpu.maxVcpus !== undefined ? "cpu.maxVcpus" : "cpu.cores");
  // Without cpu (memory) in hotplug PVE keeps a vcpus (memory) change pending until the VM restarts.
  let features = hotplug;
  if (topology.vcpus !== undefined) {
    set("vcpus", topology.vcpus, "cpu.cores");
    features = hotplugWith(features, "cpu", true);
  }
  if (memoryHotplug(spec)) {
    features = hotplugWith(features, "memory", true);
    set("numa", 1, "memory.maxMiB"); // PVE refuses memory hotplug without NUMA
  }
  if (features !== hotplug) set("hotplug", String(features), spec.cpu.maxVcpus !== undefined ? "cpu.maxVcpus" : "memory.maxMiB");
  const cpu = cpuValue(spec);
  if (cpu) set("cpu", cpu, "cpu.mode");
  set("memory", String(spec.memory.sizeMiB), "memory.sizeMiB");
  if (spec.memory.balloon?.minMiB !== undefined) set("balloon", spec.memory.balloon.minMiB, "memory.balloon.minMiB");
  set("bios", spec.firmware.type === "uefi" ? "ovmf" : "seabios", "firmware.type");
  if (spec.console.kind === "spice") set("vga", "qxl", "console.kind");
  setPlacement(spec, set);
}

function cpuValue(spec: Spec): string | undefined {
  if (spec.cpu.mode === "host-passthrough") return "host";
  if (spec.cpu.mode === "custom") return spec.cpu.model;
  return undefined; // PVE's default model (x86-64-v2-AES): the closest to libvirt's host-model here
}

/** PVE's `boot: order=a;b` from the bootOrder of disks and NICs; undefined when none sets one (PVE picks). */
function bootOrder(spec: Spec): string | undefined {
  const ranked: [number, string][] = [];
  for (const [slot, d] of Object.entries(spec.disks)) if (d.bootOrder !== undefined) ranked.push([d.bootOrder, pveDiskKey(slot) ?? slot]);
  for (const [slot, n] of Object.entries(spec.nics)) if (n.bootOrder !== undefined) ranked.push([n.bootOrder, slot]);
  if (ranked.length === 0) return undefined;
  return `order=${ranked
    .sort((a, b) => a[0] - b[0])
    .map(([, k]) => k)
    .join(";")}`;
}

/**
 * A drive value: the source, the options NovaCron sets, then options it does not manage kept as
 * they were (`kept`, from the current config), so an update never drops what someone else set.
 */
function driveValue(source: string, disk: DiskSpec, kept: Map<string, string>): string {
  const props = new Map(kept);
  for (const k of ["cache", "aio", "iothread", "ro", "format", "size"]) props.delete(k);
  return formatProps(source, [
    ...props,
    ["cache", disk.cache === "none" ? undefined : disk.cache],
    ["aio", disk.io],
    ["iothread", disk.iothread !== undefined ? 1 : undefined],
    ["ro", disk.readOnly ? 1 : undefined],
    ["format", disk.pool !== undefined ? disk.format : undefined],
  ]);
}

/** A NIC value: `model=MAC` (MAC left out for PVE to pick), bridge, tag, queues; other options kept. */
function nicValue(nic: NicSpec, currentMac: string | undefined, kept: Map<string, string>): string {
  const props = new Map(kept);
  for (const k of [...props.keys()]) if (PVE_NIC_MODELS.has(k) || ["model", "macaddr", "bridge", "tag", "queues"].includes(k)) props.delete(k);
  const mac = nic.mac ?? currentMac;
  const first: [string, string | undefined][] = mac ? [[nic.model, mac.toUpperCase()]] : [["model", nic.model]];
  return formatProps(undefined, [...first, ["bridge", nic.network ?? nic.bridge], ...props, ["tag", nic.vlan], ["queues", nic.queues > 1 ? nic.queues : undefined]]);
}

/**
 * The config writes that take `current` to `next`: changed keys only, plus deletions of slots
 * the old spec had and the new one drops. Existing drives keep their volume; a grown disk is a
 * separate resize. Keys NovaCron does not manage are never touched.
 */
export interface ConfigChange extends PveParams {
  deletes: string[];
  /** PVE disk key → new size in GiB. */
  resizes: Record<string, number>;
  /** PVE disk key → the storage the disk moves to (`move_disk`), keeping its content. */
  moves: Record<string, string>;
}

export function updateParams(old: Spec, next: Spec, current: PveConfig): ConfigChange {
  const out: ConfigChange = { params: {}, origin: {}, deletes: [], resizes: {}, moves: {} };
  const set = (key: string, value: string | number, origin: string) => {
    if (String(current[key] ?? "") === String(value)) return;
    out.params[key] = value;
    out.origin[key] = origin;
  };
  const unset = (key: string) => {
    if (current[key] !== undefined) out.deletes.push(key);
  };
  set("name", next.name, "name");
  setScalars(next, set, current.hotplug);
  let features = String(out.params.hotplug ?? current.hotplug ?? "1");
  if (old.cpu.maxVcpus !== undefined && next.cpu.maxVcpus === undefined) {
    unset("vcpus");
    features = hotplugWith(features, "cpu", false);
  }
  if (old.memory.maxMiB !== undefined && next.memory.maxMiB === undefined) {
    features = hotplugWith(features, "memory", false);
    if (!next.cpu.numa) unset("numa");
  }
  if (features !== String(out.params.hotplug ?? current.hotplug ?? "1"))
    set("hotplug", features, next.cpu.maxVcpus === undefined && old.cpu.maxVcpus !== undefined ? "cpu.maxVcpus" : "memory.maxMiB");
  if (cpuValue(next) === undefined) unset("cpu");
  if (next.memory.balloon?.minMiB === undefined && old.memory.balloon?.minMiB !== undefined) unset("balloon");
  if (next.console.kind !== "spice" && old.console.kind === "spice") unset("vga");
  placementDeletes(old, next, unset);
  set("tags", withOwnerTag(String(current.tags ?? "")), "labels");
  if (JSON.stringify(labelsOf(String(current.description ?? ""))) !== JSON.stringify(next.labels) || !String(current.description ?? "").includes("novacron-labels:")) {
    set("description", descriptionFor(next.labels), "labels");
  }
  if (Object.keys(next.disks).some((slot) => pveDiskKey(slot)?.startsWith("scsi")) && current.scsihw === undefined) set("scsihw", "virtio-scsi-single", "disks");
  for (const [slot, disk] of Object.entries(next.disks)) {
    const key = pveDiskKey(slot)!;
    const existing = current[key] === undefined ? undefined : parseProps(String(current[key]));
    const before = old.disks[slot];
    // A disk made from a pool that names another pool now moves there with its content.
    const moved = before?.pool !== undefined && disk.pool !== undefined && before.pool !== disk.pool && existing?.head !== undefined && existing.head.split(":")[0] !== disk.pool;
    if (moved) out.moves[key] = disk.pool!;
    const replaced = before !== undefined && !moved && (before.volume !== disk.volume || before.pool !== disk.pool);
    if (!existing?.head || replaced) {
      set(key, driveValue(disk.volume ?? `${disk.pool}:${disk.sizeGiB}`, disk, new Map()), `disks.${slot}`);
      continue;
    }
    const drive = driveValue(existing.head, disk, existing.props);
    if (!sameProps(drive, String(current[key]))) set(key, drive, `disks.${slot}`);
    const size = sizeToGiB(existing.props.get("size"));
    // An unknown size (no size= in the config) is never "grown": PVE would refuse a shrink anyway.
    if (disk.sizeGiB !== undefined && size !== undefined && disk.sizeGiB > size + 1e-9) out.resizes[key] = disk.sizeGiB;
  }
  for (const slot of Object.keys(old.disks)) if (!(slot in next.disks)) unset(pveDiskKey(slot) ?? slot);
  for (const [slot, nic] of Object.entries(next.nics)) {
    const existing = current[slot] === undefined ? undefined : parseProps(String(current[slot]));
    const mac = existing ? macOf(existing.props)?.[1] : undefined;
    // The MAC PVE picked stays unless the model changes (a new device) or the spec names one.
    const keepMac = existing && macOf(existing.props)?.[0] === nic.model ? mac : undefined;
    const value = nicValue(nic, keepMac, existing?.props ?? new Map());
    if (!existing || !sameProps(value, String(current[slot]))) set(slot, value, `nics.${slot}`);
  }
  for (const slot of Object.keys(old.nics)) if (!(slot in next.nics)) unset(slot);
  for (const [slot, dev] of Object.entries(next.passthrough)) {
    const key = hostpciKey(slot)!;
    const existing = current[key] === undefined ? undefined : parseProps(String(current[key]));
    const value = hostpciValue(dev, next.machine, existing?.props ?? new Map());
    if (!existing || !sameProps(value, String(current[key]))) set(key, value, `passthrough.${slot}.device`);
  }
  for (const slot of Object.keys(old.passthrough)) if (!(slot in next.passthrough)) unset(hostpciKey(slot) ?? slot);
  if (next.firmware.tpm && !old.firmware.tpm) {
    const storage = efiStorage(next);
    if (storage) set("tpmstate0", `${storage}:1,version=v2.0`, "firmware.tpm");
  }
  if (!next.firmware.tpm && old.firmware.tpm) unset("tpmstate0");
  if (next.cloudInit) {
    // PVE answers the password masked, so it is written only when the spec's changed or PVE has none.
    const password = old.cloudInit?.user?.password !== next.cloudInit.user?.password || current.cipassword === undefined;
    cloudInitKeys(next.cloudInit, set, password);
    const storage = efiStorage(next);
    if (!isCloudInitDrive(current[CLOUDINIT_DRIVE]) && storage) set(CLOUDINIT_DRIVE, `${storage}:cloudinit`, "cloudInit");
  }
  for (const key of cloudInitDeletes(old.cloudInit, next.cloudInit, current)) unset(key);
  const boot = bootOrder(next);
  if (boot) set("boot", boot, "disks");
  return out;
}

/** Two property strings with the same head and the same options in any order; `size=` is PVE's note, not a setting. */
function sameProps(a: string, b: string): boolean {
  const x = parseProps(a);
  const y = parseProps(b);
  x.props.delete("size");
  y.props.delete("size");
  if ((x.head ?? "").toLowerCase() !== (y.head ?? "").toLowerCase() || x.props.size !== y.props.size) return false;
  for (const [k, v] of x.props) if (y.props.get(k)?.toLowerCase() !== v.toLowerCase()) return false;
  return true;
}

function macOf(props: Map<string, string>): [string, string] | undefined {
  for (const [k, v] of props) if (PVE_NIC_MODELS.has(k)) return [k, v];
  const model = props.get("model");
  return model ? [model, props.get("macaddr") ?? ""] : undefined;
}

/**
 * A config read back as the model. Fields PVE does not hold (update policy, waitForIp, boot order
 * ranks, balloon stats period) come from `last`; devices NovaCron cannot express (IDE disks,
 * CD-ROMs, NIC models outside the model) are left out, and never deleted by an update.
 */
export function specFromConfig(config: PveConfig, qmpStatus: string, last: Spec): { spec: Spec; macs: Record<string, string> } {
  const cpu = String(config.cpu ?? "")
    .split(",")[0]
    .replace(/^cputype=/, "");
  const memory = Number(
    String(config.memory ?? "512")
      .replace(/^current=/, "")
      .split(",")[0],
  );
  const disks: Spec["disks"] = {};
  for (const key of Object.keys(config).filter(isPveDiskKey)) {
    const slot = modelDiskSlot(key, last);
    const drive = parseProps(String(config[key]));
    if (!slot || !drive.head || drive.props.get("media") === "cdrom" || drive.head === "none") continue;
    // A VM made from a template or an archive brings the disks the spec does not name (a data
    // disk of the image): they are the image's, left alone like IDE disks, never dropped by an update.
    if ((last.cloneFrom !== undefined || last.restoreFrom !== undefined) && !(slot in last.disks)) continue;
    const before = last.disks[slot] as DiskSpec | undefined;
    const storage = drive.head.split(":")[0];
    const size = sizeToGiB(drive.props.get("size"));
    const source =
      before?.pool === storage && before.sizeGiB !== undefined
        ? { pool: storage, sizeGiB: size !== undefined ? Math.round(size * 1000) / 1000 : before.sizeGiB }
        : { volume: drive.head };
    disks[slot] = {
      ...source,
      bus: busForSlot(slot),
      cache: (drive.props.get("cache") ?? "none") as DiskSpec["cache"],
      ...(drive.props.has("aio") ? { io: drive.props.get("aio") as DiskSpec["io"] } : {}),
      ...(drive.props.get("iothread") === "1" ? { iothread: before?.iothread ?? 1 } : {}),
      ...(before?.bootOrder !== undefined ? { bootOrder: before.bootOrder } : {}),
      ...(source.pool !== undefined && (drive.props.get("format") ?? before?.format) ? { format: (drive.props.get("format") ?? before?.format) as DiskSpec["format"] } : {}),
      readOnly: drive.props.get("ro") === "1",
    };
  }
  const nics: Spec["nics"] = {};
  const macs: Record<string, string> = {};
  for (const key of Object.keys(config).filter((k) => /^net\d+$/.test(k))) {
    const nic = parseProps(String(config[key]));
    const found = macOf(nic.props);
    const before = last.nics[key] as NicSpec | undefined;
    const model = (NIC_MODELS as readonly string[]).includes(found?.[0] ?? "") ? (found![0] as NicSpec["model"]) : before?.model;
    if (!model) continue;
    if (found?.[1]) macs[key] = found[1].toLowerCase();
    const bridge = nic.props.get("bridge");
    nics[key] = {
      model,
      queues: Number(nic.props.get("queues") ?? 1) || 1,
      ...(before?.mac !== undefined && found?.[1] ? { mac: found[1].toLowerCase() } : {}),
      ...(bridge === undefined ? {} : before?.network !== undefined ? { network: bridge } : { bridge }),
      ...(nic.props.has("tag") ? { vlan: Number(nic.props.get("tag")) } : {}),
      ...(before?.bootOrder !== undefined ? { bootOrder: before.bootOrder } : {}),
    };
  }
  // Devices given by mapping only: a raw `host=` device (root's way) has no PassthroughDevice to name, and is left alone.
  const passthrough: Spec["passthrough"] = {};
  for (const key of Object.keys(config).filter((k) => /^hostpci\d+$/.test(k))) {
    const { props } = parseProps(`x,${String(config[key])}`);
    const mapping = props.get("mapping");
    if (mapping) passthrough[`hostdev${key.slice(7)}`] = { device: mapping, romBar: props.get("rombar") !== "0" };
  }
  const efi = config.efidisk0 === undefined ? undefined : parseProps(String(config.efidisk0));
  const balloon = config.balloon === undefined ? last.memory.balloon : { statsPeriodSeconds: last.memory.balloon?.statsPeriodSeconds ?? 10, minMiB: Number(config.balloon) };
  const { sockets, cores, maxVcpus } = cpuFromConfig(config, last.cpu.cores);
  const maxMiB = maxMiBFromConfig(config, last);
  const { pinning, numa, hugepages } = placementFromConfig(config, last, sockets, cores);
  const spec: Spec = {
    ...last,
    name: String(config.name ?? last.name),
    machine: String(config.machine ?? "pc")
      .split(",")[0]
      .replace(/^type=/, ""),
    cpu: {
      ...withoutPlacement(last.cpu),
      sockets,
      cores,
      ...(maxVcpus !== undefined ? { maxVcpus } : {}),
      pinning,
      ...(numa ? { numa } : {}),
      threads: 1,
      mode: cpu === "" ? "host-model" : cpu === "host" ? "host-passthrough" : "custom",
      ...(cpu === "" || cpu === "host" ? {} : { model: cpu }),
    },
    memory: { ...withoutHugepages(last.memory), sizeMiB: memory, ...(maxMiB !== undefined ? { maxMiB } : {}), balloon, ...(hugepages ? { hugepages } : {}) },
    disks,
    nics,
    passthrough,
    firmware: {
      type: config.bios === "ovmf" ? "uefi" : "bios",
      secureBoot: efi?.props.get("pre-enrolled-keys") === "1",
      tpm: config.tpmstate0 !== undefined,
    },
    console: {
      ...last.console,
      kind:
        config.vga !== undefined &&
        String(config.vga)
          .split(",")[0]
          .replace(/^type=/, "") === "qxl"
          ? "spice"
          : last.console.kind === "spice"
            ? "vnc"
            : last.console.kind,
    },
    powerState: qmpStatus === "paused" ? "paused" : qmpStatus === "running" ? "running" : "stopped",
    labels: labelsOf(config.description === undefined ? undefined : String(config.description)),
  };
  const cloudInit = cloudInitFromConfig(config, last.cloudInit);
  if (cloudInit) spec.cloudInit = cloudInit;
  else delete spec.cloudInit;
  return { spec, macs };
}

/** The CPU fields the config does not decide; model, ceiling, pinning and NUMA cells come from the config. */
function withoutPlacement(cpu: Spec["cpu"]): Omit<Spec["cpu"], "model" | "pinning" | "numa" | "maxVcpus"> {
  const { model: _model, pinning: _pinning, numa: _numa, maxVcpus: _maxVcpus, ...rest } = cpu;
  return rest;
}

function withoutHugepages(memory: Spec["memory"]): Omit<Spec["memory"], "hugepages" | "maxMiB"> {
  const { hugepages: _hugepages, maxMiB: _maxMiB, ...rest } = memory;
  return rest;
}
