import { vcpuCount, type CdromSpec, type DiskSpec, type VirtualMachineSpec } from "../../../core/model";
import { el, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import type { DiskSource, DomainBuildContext, DriveAddress } from "./domain-context";
import { compareSlots, lettersToIndex, slotToTargetDev } from "./slots";

/** AHCI controllers have six ports; libvirt numbers SATA drives controller/unit accordingly. */
const AHCI_PORTS = 6;
/** Far outside every model slot's index range, so the seed never collides with a user disk. */
export const SEED_SATA_DEV = "sdzz";
/** On i440fx the seed sits on the secondary IDE slave, the classic CD-ROM position. */
export const SEED_IDE_DEV = "hdd";

const BUS_ATTR = { "virtio-blk": "virtio", "virtio-scsi": "scsi", sata: "sata", ide: "ide", scsi: "scsi", usb: "usb", sd: "sd" } as const;

export function isQ35(machine: string): boolean {
  // Covers the alias and versioned types such as pc-q35-7.2.
  return machine.includes("q35");
}

/** vd slots on a SCSI bus take units above every sd-family index (sda … sata99 end at 225). */
const VD_SCSI_UNIT_BASE = 226;

/**
 * The SCSI unit (LUN) derived from the target name, so a disk keeps its LUN when others come and go;
 * vd and sd names share one controller's unit space, hence the offset for vd.
 */
function scsiUnit(dev: string): number {
  const index = lettersToIndex(dev.slice(2)) ?? 0;
  return dev.startsWith("vd") ? VD_SCSI_UNIT_BASE + index : index;
}

function sourceElement(src: DiskSource): XmlElement {
  if (src.kind === "file") return el("source", { file: src.path });
  if (src.kind === "block") return el("source", { dev: src.dev });
  return el("source", { pool: src.pool, volume: src.volume });
}

function defaultFormat(src: DiskSource, disk: DiskSpec): string {
  // A qcow2 image read as raw exposes its headers to the guest; the model's volumes default to qcow2.
  return src.format ?? disk.format ?? (src.kind === "block" ? "raw" : "qcow2");
}

interface Placement {
  /** SCSI controller index per iothread (0 = no iothread), in emitted order. */
  scsiControllers: { index: number; iothread?: number }[];
  scsiControllerFor: Map<string, number>;
  sataAddress: Map<string, { controller: number; unit: number }>;
  /** Addresses the host's definition already gives disks on emulated buses (IDE, SCSI HBA, USB, SD). */
  kept: Map<string, DriveAddress>;
}

/** `bus:controller:unit` of every drive address preserved devices (CD-ROMs …) hold. */
function preservedDriveAddresses(ctx: DomainBuildContext): Set<string> {
  const taken = new Set<string>();
  for (const node of ctx.preserved?.devices ?? []) {
    const address = node.child("address");
    if (node.name !== "disk" || address?.attr("type") !== "drive") continue;
    taken.add(`${node.child("target")?.attr("bus")}:${Number(address.attr("controller") ?? 0)}:${Number(address.attr("unit") ?? 0)}`);
  }
  return taken;
}

/** Indices of SCSI controllers that stay as the host has them (an emulated HBA a preserved CD-ROM sits on …). */
function preservedScsiIndices(ctx: DomainBuildContext): Set<number> {
  const nodes = (ctx.preserved?.devices ?? []).filter((n) => n.name === "controller" && n.attr("type") === "scsi");
  return new Set(nodes.map((n) => Number(n.attr("index") ?? 0)));
}

/**
 * virtio-scsi binds an iothread per controller, not per disk, so SCSI disks are grouped into one
 * controller per distinct iothread. Controller indices are compact (not the iothread number):
 * libvirt fills any gap in SCSI indices with lsilogic controllers. SATA ports are handed out
 * compactly in slot order, because slot-derived indices are far beyond an AHCI controller's six ports.
 */
function place(spec: VirtualMachineSpec, seed: boolean, ctx: DomainBuildContext): Placement {
  const slots = Object.keys(spec.disks).sort(compareSlots);
  const scsi = slots.filter((s) => spec.disks[s].bus === "virtio-scsi");
  const groups = [...new Set(scsi.map((s) => spec.disks[s].iothread ?? 0))].sort((a, b) => a - b);
  // Our controllers take the indices no preserved SCSI controller holds.
  const heldScsi = preservedScsiIndices(ctx);
  const free: number[] = [];
  for (let i = 0; free.length < groups.length; i++) if (!heldScsi.has(i)) free.push(i);
  const scsiControllers = groups.map((iothread, i) => ({ index: free[i], iothread: iothread === 0 ? undefined : iothread }));
  const scsiControllerFor = new Map(scsi.map((s) => [s, free[groups.indexOf(spec.disks[s].iothread ?? 0)]]));
  const taken = preservedDriveAddresses(ctx);
  const kept = new Map<string, DriveAddress>();
  const cdroms = spec.cdroms ?? {};
  const cdromSlots = Object.keys(cdroms).sort(compareSlots);
  // Disks and CD-ROM drives that already have a drive address on the host keep it.
  const busOf = (slot: string): string => (slot in cdroms ? (cdroms[slot].bus as string) : BUS_ATTR[spec.disks[slot].bus as keyof typeof BUS_ATTR]);
  for (const slot of [...slots, ...cdromSlots]) {
    const at = ctx.driveAddresses?.[slot];
    const bus = busOf(slot);
    if (at === undefined || spec.disks[slot]?.bus === "virtio-scsi" || at.on !== bus || taken.has(`${bus}:${at.controller}:${at.unit}`)) continue;
    kept.set(slot, at);
    taken.add(`${bus}:${at.controller}:${at.unit}`);
  }
  const sata = [...slots.filter((s) => spec.disks[s].bus === "sata"), ...cdromSlots.filter((s) => cdroms[s].bus === "sata")].filter((s) => !kept.has(s));
  if (seed && isQ35(spec.machine)) sata.push(SEED_SATA_DEV);
  // SATA ports are handed out compactly, skipping the ones kept disks and preserved CD-ROMs hold.
  const sataAddress = new Map<string, { controller: number; unit: number }>();
  let port = 0;
  for (const slot of sata) {
    while (taken.has(`sata:${Math.floor(port / AHCI_PORTS)}:${port % AHCI_PORTS}`)) port++;
    sataAddress.set(slot, { controller: Math.floor(port / AHCI_PORTS), unit: port % AHCI_PORTS });
    port++;
  }
  return { scsiControllers, scsiControllerFor, sataAddress, kept };
}

function diskElement(slot: string, disk: DiskSpec, src: DiskSource, at: Placement): XmlElement {
  if (disk.bus === "nvme") {
    throw new LibvirtXmlError(`disks.${slot}.bus`, "libvirt 9.0 has no NVMe disk bus (<target bus='nvme'> is not in its schema); use virtio-blk or virtio-scsi");
  }
  if (disk.iothread !== undefined && disk.bus === "sata") {
    throw new LibvirtXmlError(`disks.${slot}.iothread`, "QEMU runs only virtio disks in an iothread; use bus virtio-blk or virtio-scsi");
  }
  if (disk.io === "native" && disk.cache !== "none" && disk.cache !== "directsync") {
    throw new LibvirtXmlError(`disks.${slot}.io`, `io "native" needs O_DIRECT, so cache must be "none" or "directsync" (got "${disk.cache}")`);
  }
  if (disk.readOnly && disk.bus === "sata") {
    throw new LibvirtXmlError(`disks.${slot}.readOnly`, "libvirt refuses read-only SATA disks (only SATA CD-ROMs are read-only); use bus virtio-blk or virtio-scsi");
  }
  if (disk.iothread !== undefined && disk.bus !== "virtio-blk" && disk.bus !== "virtio-scsi") {
    throw new LibvirtXmlError(`disks.${slot}.iothread`, "QEMU runs only virtio disks in an iothread; use bus virtio-blk or virtio-scsi");
  }
  const dev = slotToTargetDev(slot);
  const scsiController = at.scsiControllerFor.get(slot);
  const sata = at.sataAddress.get(slot);
  const kept = at.kept.get(slot);
  return el(
    "disk",
    { type: src.kind, device: "disk" },
    el("driver", {
      name: "qemu",
      type: defaultFormat(src, disk),
      // Not set: the hypervisor's default applies, as on a disk attached without one.
      cache: disk.cache === "hypervisor-default" ? undefined : disk.cache,
      io: disk.io,
      discard: disk.discard,
      detect_zeroes: disk.detectZeroes,
      iothread: disk.bus === "virtio-blk" ? disk.iothread : undefined,
    }),
    sourceElement(src),
    el("target", { dev, bus: BUS_ATTR[disk.bus] }),
    disk.bootOrder !== undefined && el("boot", { order: disk.bootOrder }),
    disk.readOnly && el("readonly"),
    scsiController !== undefined && el("address", { type: "drive", controller: scsiController, bus: 0, target: 0, unit: scsiUnit(dev) }),
    sata !== undefined && el("address", { type: "drive", controller: sata.controller, bus: 0, target: 0, unit: sata.unit }),
    kept !== undefined && el("address", { type: "drive", controller: kept.controller, bus: kept.bus, target: kept.target, unit: kept.unit }),
  );
}

function seedElement(spec: VirtualMachineSpec, path: string, at: Placement): XmlElement {
  const q35 = isQ35(spec.machine);
  const sata = at.sataAddress.get(SEED_SATA_DEV);
  return el(
    "disk",
    { type: "file", device: "cdrom" },
    el("driver", { name: "qemu", type: "raw" }),
    el("source", { file: path }),
    el("target", { dev: q35 ? SEED_SATA_DEV : SEED_IDE_DEV, bus: q35 ? "sata" : "ide" }),
    el("readonly"),
    q35 && sata !== undefined && el("address", { type: "drive", controller: sata.controller, bus: 0, target: 0, unit: sata.unit }),
  );
}

/** A CD-ROM drive; with no image it is an empty drive a disc can be inserted into later. */
function cdromElement(slot: string, cdrom: CdromSpec, at: Placement): XmlElement {
  const dev = slotToTargetDev(slot);
  const sata = at.sataAddress.get(slot);
  const kept = at.kept.get(slot);
  return el(
    "disk",
    { type: "file", device: "cdrom" },
    el("driver", { name: "qemu", type: "raw" }),
    cdrom.image !== undefined && el("source", { file: cdrom.image }),
    el("target", { dev, bus: cdrom.bus }),
    cdrom.bootOrder !== undefined && el("boot", { order: cdrom.bootOrder }),
    el("readonly"),
    sata !== undefined && el("address", { type: "drive", controller: sata.controller, bus: 0, target: 0, unit: sata.unit }),
    kept !== undefined && el("address", { type: "drive", controller: kept.controller, bus: kept.bus, target: kept.target, unit: kept.unit }),
  );
}

/** Disks, the cloud-init seed and the SCSI controllers they need. */
export function diskElements(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  if (spec.cloudInit && ctx.cloudInitSeed === undefined) {
    throw new LibvirtXmlError("cloudInit", "the seed ISO path must be resolved before building the domain (ctx.cloudInitSeed)");
  }
  const seed = spec.cloudInit !== undefined && ctx.cloudInitSeed !== undefined;
  if (Object.values(spec.disks).some((d) => d.bus === "scsi") && Object.values(spec.disks).some((d) => d.bus === "virtio-scsi")) {
    throw new LibvirtXmlError("disks", "SCSI disks go either all on virtio-scsi or all on the emulated SCSI bus (`scsi`), not both");
  }
  const at = place(spec, seed, ctx);
  const disks = Object.keys(spec.disks)
    .sort(compareSlots)
    .map((slot) => {
      const src = ctx.disks[slot];
      if (!src) throw new LibvirtXmlError(`disks.${slot}`, "no resolved source for this slot (ctx.disks)");
      return diskElement(slot, spec.disks[slot], src, at);
    });
  for (const slot of Object.keys(spec.cdroms ?? {}).sort(compareSlots)) {
    if (seed && !isQ35(spec.machine) && slotToTargetDev(slot) === SEED_IDE_DEV) {
      throw new LibvirtXmlError(`cdroms.${slot}`, `on a ${spec.machine} machine with cloudInit, ${SEED_IDE_DEV} holds the cloud-init seed; pick another slot`);
    }
    if (spec.cdroms![slot].bus === "ide" && isQ35(spec.machine)) {
      throw new LibvirtXmlError(`cdroms.${slot}.bus`, "q35 machines have no IDE bus; use sata");
    }
    disks.push(cdromElement(slot, spec.cdroms![slot], at));
  }
  if (seed) disks.push(seedElement(spec, ctx.cloudInitSeed as string, at));
  const queues = ctx.scsiQueues ?? vcpuCount(spec);
  const controllers = at.scsiControllers.map((c) => el("controller", { type: "scsi", index: c.index, model: "virtio-scsi" }, el("driver", { queues, iothread: c.iothread })));
  return [...disks, ...controllers];
}

/** The number of iothreads the domain must declare: ids are 1-based and referenced directly. */
export function iothreadCount(spec: VirtualMachineSpec): number {
  return Math.max(0, ...Object.values(spec.disks).map((d) => d.iothread ?? 0));
}
