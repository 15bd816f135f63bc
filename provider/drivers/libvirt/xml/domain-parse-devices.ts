import { DiskBus, DiskSlot, NicModel } from "../../../core/model";
import type { XmlNode } from "./dom";
import type { ParsedCdrom, ParsedDisk, ParsedDiskSource, ParsedHostdev, ParsedNic } from "./domain-parsed";
import { preserveDevice, type PreservedParts } from "./domain-preserve";
import { assignSlots, slotFromAlias, targetDevToSlot } from "./slots";
import { flag, intAttr } from "./units";

const NIC_SLOT = /^net\d{1,2}$/;
const HOSTDEV_SLOT = /^hostdev\d{1,2}$/;

function diskSource(disk: XmlNode): ParsedDiskSource {
  const type = disk.attr("type") ?? "file";
  const src = disk.child("source");
  if (type === "file" && src?.attr("file") !== undefined) return { kind: "file", path: src.attr("file") as string };
  if (type === "block" && src?.attr("dev") !== undefined) return { kind: "block", dev: src.attr("dev") as string };
  if (type === "volume" && src?.attr("pool") !== undefined && src.attr("volume") !== undefined) {
    return { kind: "volume", pool: src.attr("pool") as string, volume: src.attr("volume") as string };
  }
  return { kind: "other", type };
}

function scsiController(devices: XmlNode, index: number): XmlNode | undefined {
  return devices.all("controller").find((c) => c.attr("type") === "scsi" && (intAttr(c, "index") ?? 0) === index);
}

function parseDisk(disk: XmlNode, devices: XmlNode): ParsedDisk {
  const target = disk.child("target");
  const driver = disk.child("driver");
  const libvirtBus = target?.attr("bus") ?? "";
  let bus: string = libvirtBus;
  let iothread = intAttr(driver, "iothread");
  if (libvirtBus === "virtio") bus = "virtio-blk";
  if (libvirtBus === "scsi") {
    const controller = scsiController(devices, intAttr(disk.child("address"), "controller") ?? 0);
    if (controller?.attr("model") === "virtio-scsi") {
      bus = "virtio-scsi";
      iothread = intAttr(controller?.child("driver"), "iothread");
    }
  }
  const address = disk.child("address");
  return {
    bus,
    targetDev: target?.attr("dev") ?? "",
    ...(driver?.attr("type") !== undefined ? { format: driver.attr("type") } : {}),
    ...(driver?.attr("cache") !== undefined ? { cache: driver.attr("cache") } : {}),
    ...(driver?.attr("io") !== undefined ? { io: driver.attr("io") } : {}),
    ...(driver?.attr("discard") !== undefined ? { discard: driver.attr("discard") } : {}),
    ...(driver?.attr("detect_zeroes") !== undefined ? { detectZeroes: driver.attr("detect_zeroes") } : {}),
    ...(iothread !== undefined ? { iothread } : {}),
    ...(intAttr(disk.child("boot"), "order") !== undefined ? { bootOrder: intAttr(disk.child("boot"), "order") } : {}),
    readOnly: disk.child("readonly") !== undefined,
    source: diskSource(disk),
    ...(address?.attr("type") === "drive" ? { address: driveAddress(address) } : {}),
  };
}

function driveAddress(address: XmlNode): NonNullable<ParsedDisk["address"]> {
  return { controller: intAttr(address, "controller") ?? 0, bus: intAttr(address, "bus") ?? 0, target: intAttr(address, "target") ?? 0, unit: intAttr(address, "unit") ?? 0 };
}

const CDROM_CHILDREN = new Set(["driver", "source", "target", "boot", "readonly", "address", "alias", "backingStore"]);
const CDROM_BUSES = new Set(["ide", "sata", "scsi", "usb"]);

/** A CD-ROM or floppy drive, with why the model cannot manage it when it cannot. */
function parseCdrom(node: XmlNode, dev: string): ParsedCdrom {
  const source = diskSource(node);
  const bus = node.child("target")?.attr("bus");
  const address = node.child("address");
  const driver = node.child("driver");
  const src = node.child("source");
  const unmanageable =
    node.attr("device") !== "cdrom"
      ? "floppies are not managed"
      : node.children.some((c) => !CDROM_CHILDREN.has(c.name))
        ? `<${node.children.find((c) => !CDROM_CHILDREN.has(c.name))?.name}> is not in the model`
        : source.kind !== "file" && !(node.attr("type") === "file" && src === undefined)
          ? "only an image file or an empty drive is managed"
          : Object.keys(src?.attrs ?? {}).some((a) => a !== "file" && a !== "index") || (src?.children.length ?? 0) > 0
            ? "its source settings are not in the model"
            : Object.keys(driver?.attrs ?? {}).some((a) => a !== "name" && a !== "type") || (driver?.attr("type") ?? "raw") !== "raw"
              ? "its driver settings are not in the model"
              : bus === undefined || !CDROM_BUSES.has(bus)
                ? `bus "${bus}" is not in the model`
                : Object.keys(node.child("target")?.attrs ?? {}).some((a) => a !== "dev" && a !== "bus")
                  ? "its target settings are not in the model"
                  : !DiskSlot.safeParse(targetDevToSlot(dev)).success || /^(vd|nvme)/.test(targetDevToSlot(dev))
                    ? `target "${dev}" is not a CD-ROM slot`
                    : undefined;
  return {
    bus,
    ...(source.kind === "file" ? { path: source.path } : {}),
    ...(intAttr(node.child("boot"), "order") !== undefined ? { bootOrder: intAttr(node.child("boot"), "order") } : {}),
    ...(address?.attr("type") === "drive" ? { address: driveAddress(address) } : {}),
    ...(unmanageable !== undefined ? { unmanageable } : {}),
    node,
  };
}

/** What a managed disk may hold: anything else would be lost when the builder writes it again. */
const DISK_CHILDREN = new Set(["driver", "source", "target", "boot", "readonly", "address", "alias", "backingStore"]);
const DISK_DRIVER_ATTRS = new Set(["name", "type", "cache", "io", "iothread", "discard", "detect_zeroes"]);
const DISK_SOURCE_ATTRS = new Set(["file", "dev", "pool", "volume", "index"]);
const DISK_CACHES = new Set(["none", "writeback", "writethrough", "directsync", "unsafe"]);
const DISK_IO = new Set(["native", "threads", "io_uring"]);
const DISK_FORMATS = new Set(["qcow2", "raw", "vmdk"]);

/** Why the model cannot manage this disk, or undefined when it can (and the builder writes it back the same). */
function unmanageableDisk(node: XmlNode, disk: ParsedDisk, slot: string, virtioScsi: boolean): string | undefined {
  const extra = node.children.find((c) => !DISK_CHILDREN.has(c.name));
  if (extra) return `<${extra.name}> is not in the model`;
  const driver = node.child("driver");
  const driverAttr = Object.keys(driver?.attrs ?? {}).find((a) => !DISK_DRIVER_ATTRS.has(a));
  if (driverAttr) return `driver ${driverAttr} is not in the model`;
  if (driver?.attr("name") !== undefined && driver.attr("name") !== "qemu") return `driver ${driver.attr("name")} is not in the model`;
  const source = node.child("source");
  if (source && (source.children.length > 0 || Object.keys(source.attrs).some((a) => !DISK_SOURCE_ATTRS.has(a)))) return "its source settings are not in the model";
  if (Object.keys(node.child("target")?.attrs ?? {}).some((a) => a !== "dev" && a !== "bus")) return "its target settings are not in the model";
  if (Object.keys(node.attrs).some((a) => a !== "type" && a !== "device")) return "its disk attributes are not in the model";
  if (disk.source.kind === "other") return `a ${disk.source.type} disk is not in the model`;
  if (!DiskBus.safeParse(disk.bus).success || disk.bus === "nvme") return `bus "${disk.bus}" is not in the model`;
  if (!DiskSlot.safeParse(slot).success) return `target "${disk.targetDev}" is not a model slot`;
  if (disk.cache !== undefined && !DISK_CACHES.has(disk.cache)) return `cache "${disk.cache}" is not in the model`;
  if (disk.io !== undefined && !DISK_IO.has(disk.io)) return `io "${disk.io}" is not in the model`;
  if (disk.discard !== undefined && disk.discard !== "unmap" && disk.discard !== "ignore") return `discard "${disk.discard}" is not in the model`;
  if (disk.detectZeroes !== undefined && !["off", "on", "unmap"].includes(disk.detectZeroes)) return `detect_zeroes "${disk.detectZeroes}" is not in the model`;
  if (disk.format !== undefined && !DISK_FORMATS.has(disk.format)) return `format "${disk.format}" is not in the model`;
  if (disk.io === "native" && disk.cache !== "none" && disk.cache !== "directsync") return "io native without cache none is not in the model";
  if (disk.iothread !== undefined && disk.bus !== "virtio-blk" && disk.bus !== "virtio-scsi") return "an iothread on this bus is not in the model";
  if (disk.readOnly && disk.bus === "sata") return "a read-only SATA disk is not in the model";
  if (disk.bus === "scsi" && virtioScsi) return "SCSI disks on both virtio-scsi and an emulated HBA are not in the model";
  return undefined;
}

export interface ParsedDisks {
  disks: Record<string, ParsedDisk>;
  cdroms: Record<string, ParsedCdrom>;
}

/**
 * Disks the model manages, keyed by slot; CD-ROMs and floppies by target dev (the caller takes
 * our cloud-init seed out of them). Every disk the model cannot express exactly, and every
 * CD-ROM and floppy, also goes to `preserved` (the seed is removed from there by the caller).
 */
export function parseDisks(devices: XmlNode, preserved: PreservedParts): ParsedDisks {
  const disks: Record<string, ParsedDisk> = {};
  const cdroms: Record<string, ParsedCdrom> = {};
  const candidates = devices
    .all("disk")
    .filter((d) => (d.attr("device") ?? "disk") === "disk")
    .map((node) => ({ node, disk: parseDisk(node, devices) }));
  const virtioScsi = candidates.some((c) => c.disk.bus === "virtio-scsi");
  for (const disk of devices.all("disk")) {
    const device = disk.attr("device") ?? "disk";
    const dev = disk.child("target")?.attr("dev") ?? "";
    const candidate = candidates.find((c) => c.node === disk);
    if (candidate) {
      const slot = targetDevToSlot(dev);
      const why = unmanageableDisk(disk, candidate.disk, slot, virtioScsi) ?? (slot in disks ? "its slot is taken" : undefined);
      if (why === undefined) disks[slot] = candidate.disk;
      else preserveDevice(disk, preserved, `kept as it is (${why})`);
    } else if (device === "lun") {
      preserveDevice(disk, preserved, "kept as it is (SCSI passthrough LUNs are not managed)");
    } else {
      // Preserved or not is decided by the caller, once our own cloud-init seed is known.
      cdroms[dev] = parseCdrom(disk, dev);
    }
  }
  return { disks, cdroms };
}

function parseNic(iface: XmlNode, sriov: boolean): ParsedNic {
  const type = iface.attr("type") ?? "";
  const source = iface.child("source");
  const direct = type === "direct" && source?.attr("dev") !== undefined ? { device: source.attr("dev") as string, mode: source.attr("mode") ?? "vepa" } : undefined;
  const tap = type === "ethernet" ? iface.child("target")?.attr("dev") : undefined;
  // A running domain shows a network NIC with the network's actual type (bridge for a forward-mode
  // bridge network, hostdev for a VF pool) and keeps the network name on <source>: that name wins.
  const network = source?.attr("network");
  // Libvirt fills in its default model even for a VF pool's interface, where no emulated model exists.
  const model = sriov ? undefined : iface.child("model")?.attr("type");
  const vlan = intAttr(iface.child("vlan")?.child("tag"), "id");
  const bootOrder = intAttr(iface.child("boot"), "order");
  const mac = iface.child("mac")?.attr("address")?.toLowerCase();
  return {
    type,
    ...(model !== undefined ? { model } : {}),
    ...(mac !== undefined ? { mac } : {}),
    queues: intAttr(iface.child("driver"), "queues") ?? 1,
    ...(network !== undefined ? (sriov ? { sriovPool: network } : { network }) : {}),
    ...(network === undefined && type === "bridge" && source?.attr("bridge") !== undefined ? { bridge: source.attr("bridge") } : {}),
    ...(direct ? { direct } : {}),
    ...(type === "ethernet" ? { ethernet: tap !== undefined ? { tap } : {} } : {}),
    ...(vlan !== undefined ? { vlan } : {}),
    ...(bootOrder !== undefined ? { bootOrder } : {}),
  };
}

const NIC_CHILDREN = new Set(["mac", "source", "model", "driver", "vlan", "boot", "alias", "address", "target"]);
const NIC_TYPES = new Set(["network", "bridge", "direct", "user", "ethernet"]);
const DIRECT_MODES = new Set(["vepa", "bridge", "private", "passthrough"]);

/** Why the model cannot manage this NIC, or undefined when the builder writes it back the same. */
function unmanageableNic(iface: XmlNode, sriov: boolean): string | undefined {
  const type = iface.attr("type") ?? "";
  if (!NIC_TYPES.has(type) && !(sriov && type === "hostdev")) return `type "${type}" is not in the model`;
  const extra = iface.children.find((c) => !NIC_CHILDREN.has(c.name));
  if (extra) return `<${extra.name}> is not in the model`;
  if (Object.keys(iface.attrs).some((a) => a !== "type")) return "its interface attributes are not in the model";
  const source = iface.child("source");
  const sourceAttrs = Object.keys(source?.attrs ?? {});
  // portid: a running domain's port in its network, not a setting.
  const allowed = type === "direct" ? ["dev", "mode"] : type === "bridge" || type === "network" ? ["network", "bridge", "portid"] : [];
  if ((source?.children.length ?? 0) > 0 || sourceAttrs.some((a) => !allowed.includes(a))) return "its source settings are not in the model";
  if (type === "direct" && (source?.attr("dev") === undefined || !DIRECT_MODES.has(source.attr("mode") ?? "vepa"))) return "its macvtap settings are not in the model";
  if ((type === "network" || type === "bridge") && source?.attr("network") === undefined && source?.attr("bridge") === undefined) return "it has no source";
  const target = iface.child("target");
  // A running domain names its tap device in <target dev>; only an ethernet NIC's tap is a setting.
  if (target && Object.keys(target.attrs).some((a) => a !== "dev")) return "its target settings are not in the model";
  const model = iface.child("model")?.attr("type");
  if (model !== undefined && !sriov && (!NicModel.safeParse(model).success || model === "hypervisor-default")) return `model "${model}" is not in the model`;
  const driver = iface.child("driver");
  if (driver && (driver.children.length > 0 || Object.keys(driver.attrs).some((a) => a !== "name" && a !== "queues"))) return "its driver settings are not in the model";
  const queues = intAttr(driver, "queues") ?? 1;
  if (queues > 1 && model !== "virtio" && !sriov) return "multiqueue on a non-virtio model is not in the model";
  if (iface.child("vlan") && !sriov) return "a VLAN on an emulated NIC is not in the model";
  return undefined;
}

/**
 * NICs keyed by their `ua-netN` alias, else net0, net1 … in document order; `sriovSlots` comes from
 * our metadata. NICs the model cannot express go to `preserved` and take no slot.
 */
export function parseNics(devices: XmlNode, sriovSlots: ReadonlySet<string>, preserved: PreservedParts): Record<string, ParsedNic> {
  const ownSlot = (i: XmlNode) => slotFromAlias(i.child("alias")?.attr("name"), NIC_SLOT);
  const managed: XmlNode[] = [];
  for (const iface of devices.all("interface")) {
    const own = ownSlot(iface);
    const why = unmanageableNic(iface, own !== undefined && sriovSlots.has(own));
    if (why === undefined) managed.push(iface);
    else preserveDevice(iface, preserved, `kept as it is (${why})`);
  }
  const keyed = assignSlots(managed, ownSlot, "net");
  return Object.fromEntries(keyed.map(([slot, iface]) => [slot, parseNic(iface, sriovSlots.has(slot))]));
}

function parseHostdev(hostdev: XmlNode): ParsedHostdev | undefined {
  const managed = flag(hostdev.attr("managed")) ?? false;
  const romBar = hostdev.child("rom")?.attr("bar") !== "off";
  const source = hostdev.child("source");
  if (hostdev.attr("type") === "pci") {
    const a = source?.child("address");
    return {
      kind: "pci",
      address: { domain: intAttr(a, "domain") ?? 0, bus: intAttr(a, "bus") ?? 0, slot: intAttr(a, "slot") ?? 0, function: intAttr(a, "function") ?? 0 },
      managed,
      romBar,
    };
  }
  if (hostdev.attr("type") === "usb") {
    const vendorId = intAttr(source?.child("vendor"), "id");
    const productId = intAttr(source?.child("product"), "id");
    return { kind: "usb", ...(vendorId !== undefined ? { vendorId } : {}), ...(productId !== undefined ? { productId } : {}), managed, romBar };
  }
  return undefined;
}

/** Subsystem PCI and USB hostdevs keyed like NICs (`ua-hostdevN` alias, else document order). */
export function parseHostdevs(devices: XmlNode, preserved: PreservedParts): Record<string, ParsedHostdev> {
  const hostdevs = devices.all("hostdev").filter((h) => (h.attr("mode") ?? "subsystem") === "subsystem" && parseHostdev(h) !== undefined);
  for (const h of devices.all("hostdev")) if (!hostdevs.includes(h)) preserveDevice(h, preserved, "kept as it is (only PCI and USB passthrough is managed)");
  const keyed = assignSlots(hostdevs, (h) => slotFromAlias(h.child("alias")?.attr("name"), HOSTDEV_SLOT), "hostdev");
  return Object.fromEntries(keyed.map(([slot, h]) => [slot, parseHostdev(h) as ParsedHostdev]));
}
