import { vcpuCount, type DiskSpec, type VirtualMachineSpec } from "../../../core/model";
import { el, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import type { DiskSource, DomainBuildContext } from "./domain-context";
import { compareSlots, lettersToIndex, slotToTargetDev } from "./slots";

/** AHCI controllers have six ports; libvirt numbers SATA drives controller/unit accordingly. */
const AHCI_PORTS = 6;
/** Far outside every model slot's index range, so the seed never collides with a user disk. */
export const SEED_SATA_DEV = "sdzz";
/** On i440fx the seed sits on the secondary IDE slave, the classic CD-ROM position. */
export const SEED_IDE_DEV = "hdd";

const BUS_ATTR = { "virtio-blk": "virtio", "virtio-scsi": "scsi", sata: "sata" } as const;

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
}

/**
 * virtio-scsi binds an iothread per controller, not per disk, so SCSI disks are grouped into one
 * controller per distinct iothread. Controller indices are compact (not the iothread number):
 * libvirt fills any gap in SCSI indices with lsilogic controllers. SATA ports are handed out
 * compactly in slot order, because slot-derived indices are far beyond an AHCI controller's six ports.
 */
function place(spec: VirtualMachineSpec, seed: boolean): Placement {
  const slots = Object.keys(spec.disks).sort(compareSlots);
  const scsi = slots.filter((s) => spec.disks[s].bus === "virtio-scsi");
  const groups = [...new Set(scsi.map((s) => spec.disks[s].iothread ?? 0))].sort((a, b) => a - b);
  const scsiControllers = groups.map((iothread, index) => ({ index, iothread: iothread === 0 ? undefined : iothread }));
  const scsiControllerFor = new Map(scsi.map((s) => [s, groups.indexOf(spec.disks[s].iothread ?? 0)]));
  const sata = slots.filter((s) => spec.disks[s].bus === "sata");
  if (seed && isQ35(spec.machine)) sata.push(SEED_SATA_DEV);
  const sataAddress = new Map(sata.map((s, i) => [s, { controller: Math.floor(i / AHCI_PORTS), unit: i % AHCI_PORTS }]));
  return { scsiControllers, scsiControllerFor, sataAddress };
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
  const dev = slotToTargetDev(slot);
  const scsiController = at.scsiControllerFor.get(slot);
  const sata = at.sataAddress.get(slot);
  return el(
    "disk",
    { type: src.kind, device: "disk" },
    el("driver", {
      name: "qemu",
      type: defaultFormat(src, disk),
      cache: disk.cache,
      io: disk.io,
      iothread: disk.bus === "virtio-blk" ? disk.iothread : undefined,
    }),
    sourceElement(src),
    el("target", { dev, bus: BUS_ATTR[disk.bus] }),
    disk.bootOrder !== undefined && el("boot", { order: disk.bootOrder }),
    disk.readOnly && el("readonly"),
    scsiController !== undefined && el("address", { type: "drive", controller: scsiController, bus: 0, target: 0, unit: scsiUnit(dev) }),
    sata !== undefined && el("address", { type: "drive", controller: sata.controller, bus: 0, target: 0, unit: sata.unit }),
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

/** Disks, the cloud-init seed and the SCSI controllers they need. */
export function diskElements(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  if (spec.cloudInit && ctx.cloudInitSeed === undefined) {
    throw new LibvirtXmlError("cloudInit", "the seed ISO path must be resolved before building the domain (ctx.cloudInitSeed)");
  }
  const seed = spec.cloudInit !== undefined && ctx.cloudInitSeed !== undefined;
  const at = place(spec, seed);
  const disks = Object.keys(spec.disks)
    .sort(compareSlots)
    .map((slot) => {
      const src = ctx.disks[slot];
      if (!src) throw new LibvirtXmlError(`disks.${slot}`, "no resolved source for this slot (ctx.disks)");
      return diskElement(slot, spec.disks[slot], src, at);
    });
  if (seed) disks.push(seedElement(spec, ctx.cloudInitSeed as string, at));
  const queues = ctx.scsiQueues ?? vcpuCount(spec);
  const controllers = at.scsiControllers.map((c) =>
    el("controller", { type: "scsi", index: c.index, model: "virtio-scsi" }, el("driver", { queues, iothread: c.iothread })),
  );
  return [...disks, ...controllers];
}

/** The number of iothreads the domain must declare: ids are 1-based and referenced directly. */
export function iothreadCount(spec: VirtualMachineSpec): number {
  return Math.max(0, ...Object.values(spec.disks).map((d) => d.iothread ?? 0));
}
