import type { XmlNode } from "./dom";
import type { ParsedCdrom, ParsedDisk, ParsedDiskSource, ParsedHostdev, ParsedNic } from "./domain-parsed";
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
    if (controller?.attr("model") === "virtio-scsi") bus = "virtio-scsi";
    iothread = intAttr(controller?.child("driver"), "iothread");
  }
  return {
    bus,
    targetDev: target?.attr("dev") ?? "",
    ...(driver?.attr("type") !== undefined ? { format: driver.attr("type") } : {}),
    ...(driver?.attr("cache") !== undefined ? { cache: driver.attr("cache") } : {}),
    ...(driver?.attr("io") !== undefined ? { io: driver.attr("io") } : {}),
    ...(iothread !== undefined ? { iothread } : {}),
    ...(intAttr(disk.child("boot"), "order") !== undefined ? { bootOrder: intAttr(disk.child("boot"), "order") } : {}),
    readOnly: disk.child("readonly") !== undefined,
    source: diskSource(disk),
  };
}

export interface ParsedDisks {
  disks: Record<string, ParsedDisk>;
  cdroms: Record<string, ParsedCdrom>;
}

export function parseDisks(devices: XmlNode): ParsedDisks {
  const disks: Record<string, ParsedDisk> = {};
  const cdroms: Record<string, ParsedCdrom> = {};
  for (const disk of devices.all("disk")) {
    const device = disk.attr("device") ?? "disk";
    const dev = disk.child("target")?.attr("dev") ?? "";
    if (device === "disk" || device === "lun") {
      disks[targetDevToSlot(dev)] = parseDisk(disk, devices);
    } else {
      const source = diskSource(disk);
      cdroms[dev] = { bus: disk.child("target")?.attr("bus"), ...(source.kind === "file" ? { path: source.path } : {}) };
    }
  }
  return { disks, cdroms };
}

function parseNic(iface: XmlNode, sriov: boolean): ParsedNic {
  const type = iface.attr("type") ?? "";
  const source = iface.child("source");
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
    ...(vlan !== undefined ? { vlan } : {}),
    ...(bootOrder !== undefined ? { bootOrder } : {}),
  };
}

/** NICs keyed by their `ua-netN` alias, else net0, net1 … in document order; `sriovSlots` comes from our metadata. */
export function parseNics(devices: XmlNode, sriovSlots: ReadonlySet<string>): Record<string, ParsedNic> {
  const keyed = assignSlots(devices.all("interface"), (i) => slotFromAlias(i.child("alias")?.attr("name"), NIC_SLOT), "net");
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
export function parseHostdevs(devices: XmlNode): Record<string, ParsedHostdev> {
  const hostdevs = devices.all("hostdev").filter((h) => (h.attr("mode") ?? "subsystem") === "subsystem" && parseHostdev(h) !== undefined);
  const keyed = assignSlots(hostdevs, (h) => slotFromAlias(h.child("alias")?.attr("name"), HOSTDEV_SLOT), "hostdev");
  return Object.fromEntries(keyed.map(([slot, h]) => [slot, parseHostdev(h) as ParsedHostdev]));
}
