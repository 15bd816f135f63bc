import type { CdromSpec, DiskSpec, NicSpec, VirtualMachineSpec } from "../../../core/model";
import type { ParsedDomain } from "../xml";
import { DomainState } from "./vm-power";

/**
 * The model as the hypervisor has it, for refresh and drift. What libvirt cannot report
 * (cloud-init content, NovaCron's own settings, ids users wrote) comes from the last recorded
 * spec; what it can report overrides it, so an out-of-band `virsh` edit shows up as drift.
 * `lastPaths` maps each recorded disk slot to the host path its volume id resolved to.
 */
export function observedSpec(parsed: ParsedDomain, state: number, last: VirtualMachineSpec, lastPaths: Record<string, string>): VirtualMachineSpec {
  const disks: Record<string, DiskSpec> = {};
  for (const [slot, disk] of Object.entries(parsed.disks)) {
    // Pool volumes are named the way users may write them: `pool/volume`.
    const src = disk.source;
    const path = src.kind === "file" ? src.path : src.kind === "block" ? src.dev : src.kind === "volume" ? `${src.pool}/${src.volume}` : undefined;
    const recorded = last.disks[slot];
    const sameSource = recorded !== undefined && path !== undefined && (lastPaths[slot] === path || recorded.volume === path);
    const source = sameSource ? { volume: recorded.volume, sizeGiB: recorded.sizeGiB, pool: recorded.pool } : { volume: path ?? `${slot}-unknown-source` };
    disks[slot] = {
      ...source,
      // The parser hands over only disks the model can express (domain-parse-devices.ts).
      bus: disk.bus as DiskSpec["bus"],
      // A recorded disk keeps what the program said; one added outside NovaCron shows the host's format.
      // With no format libvirt hands QEMU the image as raw (it never probes), so that is what it is.
      format: recorded ? recorded.format : ((disk.format ?? "raw") as DiskSpec["format"]),
      cache: (disk.cache ?? "hypervisor-default") as DiskSpec["cache"],
      io: disk.io as DiskSpec["io"],
      discard: disk.discard as DiskSpec["discard"],
      detectZeroes: disk.detectZeroes as DiskSpec["detectZeroes"],
      iothread: disk.iothread,
      bootOrder: disk.bootOrder,
      readOnly: disk.readOnly,
    };
  }
  const nics: Record<string, NicSpec> = {};
  for (const [slot, nic] of Object.entries(parsed.nics)) {
    const recorded = last.nics[slot];
    nics[slot] = {
      // A VF has no emulated model: the recorded one stays. Otherwise no <model> is the hypervisor's default.
      model: (nic.sriovPool !== undefined ? (recorded?.model ?? "virtio") : (nic.model ?? "hypervisor-default")) as NicSpec["model"],
      // A MAC the user left to libvirt stays unset, or every plan would show it.
      mac: recorded?.mac === undefined ? undefined : nic.mac,
      queues: nic.queues,
      network: nic.network,
      bridge: nic.bridge,
      sriovPool: nic.sriovPool,
      direct: nic.direct as NicSpec["direct"],
      user: nic.type === "user" ? true : undefined,
      ethernet: nic.ethernet,
      vlan: nic.vlan,
      bootOrder: nic.bootOrder,
    };
  }
  const cdroms: NonNullable<VirtualMachineSpec["cdroms"]> = {};
  for (const [slot, cdrom] of Object.entries(parsed.cdroms)) {
    cdroms[slot] = { bus: cdrom.bus as CdromSpec["bus"], image: cdrom.path, bootOrder: cdrom.bootOrder };
  }
  const passthrough: VirtualMachineSpec["passthrough"] = {};
  for (const [slot, dev] of Object.entries(parsed.passthrough)) {
    const recorded = last.passthrough[slot];
    const id = dev.kind === "pci" ? nodeDeviceName(dev.address) : (recorded?.device ?? `usb_${dev.vendorId}_${dev.productId}`);
    passthrough[slot] = { device: recorded && (dev.kind !== "pci" || recorded.device === id) ? recorded.device : id, romBar: dev.romBar };
  }
  return {
    ...last,
    name: parsed.name,
    machine: parsed.machine || last.machine,
    cpu: {
      sockets: parsed.cpu.sockets,
      cores: parsed.cpu.cores,
      threads: parsed.cpu.threads,
      maxVcpus: last.cpu.maxVcpus === undefined && parsed.vcpus.max === parsed.vcpus.current ? undefined : parsed.vcpus.max,
      mode: parsed.cpu.mode,
      model: parsed.cpu.model,
      pinning: parsed.cpu.pinning,
      emulatorPinning: parsed.cpu.emulatorPinning,
      numa: parsed.cpu.numa,
    },
    memory: {
      sizeMiB: parsed.memory.sizeMiB,
      maxMiB: parsed.memory.maxMiB,
      hugepages: parsed.memory.hugepages ? { pageSizeKiB: parsed.memory.hugepages.pageSizeKiB as 2048 | 1048576 } : undefined,
      balloon: parsed.memory.balloon ? { minMiB: last.memory.balloon?.minMiB, statsPeriodSeconds: parsed.memory.balloon.statsPeriodSeconds } : undefined,
    },
    disks,
    // A VM with no drive records none, unless the program wrote an empty map.
    cdroms: Object.keys(cdroms).length > 0 ? cdroms : last.cdroms !== undefined ? {} : undefined,
    nics,
    passthrough,
    firmware: { type: parsed.firmware.type, secureBoot: parsed.firmware.secureBoot, tpm: parsed.firmware.tpm },
    kernelBoot: parsed.boot,
    console: { kind: parsed.console.kind, listen: parsed.console.listen ?? last.console.listen, password: last.console.password },
    powerState: state === DomainState.paused ? "paused" : state === DomainState.running || state === DomainState.blocked ? "running" : "stopped",
    labels: parsed.labels,
  };
}

/** libvirt's node device name for a PCI address: `pci_0000_01_00_0`. */
export function nodeDeviceName(a: { domain: number; bus: number; slot: number; function: number }): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `pci_${hex(a.domain, 4)}_${hex(a.bus, 2)}_${hex(a.slot, 2)}_${a.function}`;
}
