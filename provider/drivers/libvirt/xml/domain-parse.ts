import { parseXml, type XmlNode } from "./dom";
import { EXTRA_SEED_DEV, EXTRA_SEED_SALT, EXTRA_SRIOV_NICS } from "./domain-build";
import { parseCpu, parseMemory, parseVcpus } from "./domain-parse-cpu";
import { parseDisks, parseHostdevs, parseNics } from "./domain-parse-devices";
import type { ParsedDomain } from "./domain-parsed";
import { emptyPreserved, preserveDevice, preserveTopLevel, type PreservedParts } from "./domain-preserve";
import { DOMAIN_METADATA_NS, parseOwnership } from "./metadata";
import { targetDevToSlot } from "./slots";
import { flag } from "./units";

/** Libvirt expands `q35` to a versioned type (`pc-q35-7.2`); the family is what the model names. */
export function machineFamily(machine: string | undefined): string {
  if (machine === undefined) return "";
  if (machine === "q35" || machine.startsWith("pc-q35-")) return "q35";
  if (machine === "pc" || machine.startsWith("pc-i440fx-")) return "pc";
  return machine;
}

function parseFirmware(domain: XmlNode): ParsedDomain["firmware"] {
  const os = domain.child("os");
  const loader = os?.child("loader");
  const features = os?.child("firmware")?.all("feature") ?? [];
  const feature = (name: string) => flag(features.find((f) => f.attr("name") === name)?.attr("enabled"));
  const uefi = os?.attr("firmware") === "efi" || loader?.attr("type") === "pflash";
  return {
    type: uefi ? "uefi" : "bios",
    secureBoot: uefi && (feature("secure-boot") ?? flag(loader?.attr("secure")) ?? false),
    tpm: (domain.child("devices")?.all("tpm") ?? []).length > 0,
    ...(loader && loader.text !== "" ? { loader: loader.text } : {}),
    ...(os?.child("nvram") && os.child("nvram")?.text !== "" ? { nvram: os.child("nvram")?.text } : {}),
  };
}

/** The graphics console the model manages: the first VNC or SPICE one written the way the builder writes it. */
function managedGraphics(devices: XmlNode | undefined): XmlNode | undefined {
  const graphics = devices?.all("graphics").find((g) => g.attr("type") === "vnc" || g.attr("type") === "spice");
  if (!graphics) return undefined;
  const known = new Set(["type", "port", "autoport", "listen", "passwd"]);
  const plain = Object.keys(graphics.attrs).every((a) => known.has(a)) && graphics.children.every((c) => c.name === "listen" && c.attr("type") === "address");
  const autoport = graphics.attr("autoport") !== "no";
  return plain && autoport ? graphics : undefined;
}

function parseConsole(devices: XmlNode | undefined): ParsedDomain["console"] {
  const graphics = managedGraphics(devices);
  if (!graphics) return { kind: "none" };
  const listen =
    graphics
      .all("listen")
      .find((l) => l.attr("type") === "address")
      ?.attr("address") ?? graphics.attr("listen");
  const password = graphics.attr("passwd");
  return {
    kind: graphics.attr("type") as "vnc" | "spice",
    ...(listen !== undefined ? { listen } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

function parseBoot(domain: XmlNode): ParsedDomain["boot"] {
  const os = domain.child("os");
  const kernel = os?.child("kernel")?.rawText;
  if (kernel === undefined || kernel === "") return undefined;
  const initrd = os?.child("initrd")?.rawText;
  const cmdline = os?.child("cmdline")?.rawText;
  return { kernel, ...(initrd !== undefined ? { initrd } : {}), ...(cmdline !== undefined ? { cmdline } : {}) };
}

/** Builder-owned devices other than disks, NICs and hostdevs; everything else is preserved. */
function preserveOtherDevices(devices: XmlNode, virtioScsiInUse: boolean, into: PreservedParts): void {
  const graphics = managedGraphics(devices);
  for (const node of devices.children) {
    if (["emulator", "disk", "interface", "hostdev"].includes(node.name) || node === graphics) continue;
    if (node.name === "controller" && node.attr("type") === "pci") continue;
    if (node.name === "controller" && node.attr("type") === "scsi" && node.attr("model") === "virtio-scsi" && virtioScsiInUse) continue;
    if (node.name === "tpm" && node.attr("model") === "tpm-crb" && node.child("backend")?.attr("type") === "emulator") continue;
    if (node.name === "memballoon" && node.attr("model") === "virtio") continue;
    preserveDevice(node, into, node.name === "graphics" ? "kept as it is (only one plain VNC or SPICE console is managed)" : undefined);
  }
}

/**
 * Reads any domain XML — ours or not — into the model's VM shape for refresh and drift detection.
 * Elements it does not know are ignored; only malformed XML or a non-domain root is an error.
 */
export function parseDomainXml(xml: string): ParsedDomain {
  const domain = parseXml(xml, "domain");
  const devices = domain.child("devices");
  const ownership = parseOwnership(domain.child("metadata"), DOMAIN_METADATA_NS);
  const extras = ownership.owned ? ownership.extras : {};
  const sriov = new Set((extras[EXTRA_SRIOV_NICS] ?? "").split(",").filter((s) => s !== ""));
  const preserved = emptyPreserved();
  preserveTopLevel(domain, DOMAIN_METADATA_NS, preserved);
  const { disks, cdroms: drives } = devices ? parseDisks(devices, preserved) : { disks: {}, cdroms: {} };
  const seedDev = extras[EXTRA_SEED_DEV];
  // The seed is ours: the builder writes it, so it is neither managed, preserved nor reported.
  const seed = seedDev !== undefined ? drives[seedDev] : undefined;
  if (seedDev !== undefined) delete drives[seedDev];
  const cdroms: ParsedDomain["cdroms"] = {};
  for (const [dev, drive] of Object.entries(drives)) {
    const slot = targetDevToSlot(dev);
    if (drive.unmanageable === undefined && !(slot in disks) && !(slot in cdroms)) {
      const { node: _node, ...managed } = drive;
      cdroms[slot] = managed;
    } else {
      preserveDevice(drive.node as XmlNode, preserved, `kept as it is (${drive.unmanageable ?? "its slot is taken"})`);
    }
  }
  const nics = devices ? parseNics(devices, sriov, preserved) : {};
  const passthrough = devices ? parseHostdevs(devices, preserved) : {};
  if (devices)
    preserveOtherDevices(
      devices,
      Object.values(disks).some((d) => d.bus === "virtio-scsi"),
      preserved,
    );
  const type = domain.child("os")?.child("type");
  const boot = parseBoot(domain);
  return {
    name: domain.child("name")?.text ?? "",
    ...(domain.child("uuid") ? { uuid: domain.child("uuid")?.text } : {}),
    type: domain.attr("type") ?? "",
    machine: machineFamily(type?.attr("machine")),
    ...(type?.attr("machine") !== undefined ? { machineType: type.attr("machine") } : {}),
    ...(type?.attr("arch") !== undefined ? { arch: type.attr("arch") } : {}),
    ...(devices?.child("emulator") ? { emulator: devices.child("emulator")?.text } : {}),
    cpu: parseCpu(domain),
    vcpus: parseVcpus(domain),
    memory: parseMemory(domain),
    disks,
    cdroms,
    ...(seed?.path !== undefined ? { cloudInitSeed: seed.path } : {}),
    ...(extras[EXTRA_SEED_SALT] !== undefined ? { seedSalt: extras[EXTRA_SEED_SALT] } : {}),
    nics,
    macs: Object.fromEntries(
      Object.entries(nics)
        .filter(([, n]) => n.mac !== undefined)
        .map(([slot, n]) => [slot, n.mac as string]),
    ),
    passthrough,
    firmware: parseFirmware(domain),
    console: parseConsole(devices),
    serialConsole: (devices?.all("console") ?? []).length > 0 || (devices?.all("serial") ?? []).length > 0,
    ...(boot ? { boot } : {}),
    labels: ownership.labels,
    ownership,
    preserved,
  };
}
