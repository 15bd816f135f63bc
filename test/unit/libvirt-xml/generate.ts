import type { VirtualMachineArgs, VirtualMachineSpec } from "../../../provider/core/model";
import type { DomainBuildContext, ParsedDomain } from "../../../provider/drivers/libvirt/xml";
import { slotToTargetDev } from "../../../provider/drivers/libvirt/xml";
import { vm } from "./fixtures";

/** Small deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random valid VM spec that libvirt 9.0 can express (no NVMe, maxVcpus a multiple of sockets×threads). */
export function randomSpec(seed: number): VirtualMachineSpec {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const maybe = <T>(value: () => T): T | undefined => (r() < 0.5 ? value() : undefined);

  const sockets = int(1, 2);
  const cores = int(1, 3);
  const threads = int(1, 2);
  const vcpus = sockets * cores * threads;
  const mode = pick(["host-passthrough", "host-model", "custom"] as const);
  const numaOn = r() < 0.4 && vcpus >= 2;
  const sizeMiB = numaOn ? 2048 : pick([256, 512, 1024, 3072]);
  const cpu: VirtualMachineArgs["cpu"] = {
    sockets,
    cores,
    threads,
    mode,
    model: mode === "custom" ? pick(["Skylake-Server", "EPYC", "qemu64"]) : undefined,
    maxVcpus: maybe(() => sockets * threads * (cores + int(1, 3))),
    pinning: maybe(() => Object.fromEntries(Array.from({ length: vcpus }, (_, i) => [String(i), pick(["0", "1-2", "3,5", "4-7,^6"])]))),
    emulatorPinning: maybe(() => pick(["0", "0-1", "8-9"])),
    numa: numaOn
      ? [
          { vcpus: `0-${Math.floor(vcpus / 2) - 1}`.replace(/^0-0$/, "0"), memoryMiB: 1024, hostNode: maybe(() => 0) },
          { vcpus: `${Math.floor(vcpus / 2)}-${vcpus - 1}`, memoryMiB: 1024, hostNode: maybe(() => 1) },
        ]
      : undefined,
  };
  const disks: NonNullable<VirtualMachineArgs["disks"]> = {};
  const slots = ["vda", "vdb", "vdz", "sda", "sdc", "scsi0", "scsi7", "scsi99", "sata0", "sata3", "sata99"];
  const usedBoot = new Set<number>();
  for (const slot of slots) {
    if (r() < 0.45) continue;
    const bus = pick([undefined, undefined, "virtio-blk", "virtio-scsi", "sata"] as const);
    const effective = bus ?? (slot.startsWith("vd") ? "virtio-blk" : slot.startsWith("sata") ? "sata" : "virtio-scsi");
    const boot = maybe(() => int(1, 9));
    const cache = pick(["none", "writeback", "writethrough", "directsync", "unsafe"] as const);
    const directIo = cache === "none" || cache === "directsync";
    disks[slot] = {
      volume: `vol-${slot}`,
      bus,
      format: maybe(() => pick(["qcow2", "raw", "vmdk"] as const)),
      cache,
      io: maybe(() => pick(directIo ? (["native", "threads", "io_uring"] as const) : (["threads", "io_uring"] as const))),
      iothread: effective === "sata" ? undefined : maybe(() => int(1, 3)),
      bootOrder: takeBootOrder(usedBoot, boot),
      readOnly: effective !== "sata" && r() < 0.2,
    };
  }
  const nics: NonNullable<VirtualMachineArgs["nics"]> = {};
  for (const [i, slot] of ["net0", "net1", "net3", "net10"].entries()) {
    if (r() < 0.4) continue;
    const kind = pick(["network", "bridge", "sriovPool"] as const);
    const boot = maybe(() => int(10, 19));
    const model = kind === "sriovPool" ? undefined : pick(["virtio", "e1000e", "rtl8139"] as const);
    nics[slot] = {
      [kind]: `${kind}-${i}`,
      model,
      mac: maybe(() => `52:54:00:00:0${i}:${int(10, 99)}`),
      queues: model === "virtio" ? pick([1, 1, 2, 8]) : undefined,
      vlan: kind === "sriovPool" ? maybe(() => int(1, 4094)) : undefined,
      bootOrder: takeBootOrder(usedBoot, boot),
    };
  }
  const passthrough: NonNullable<VirtualMachineArgs["passthrough"]> = {};
  for (const slot of ["hostdev0", "hostdev2", "hostdev5"]) {
    if (r() < 0.6) continue;
    passthrough[slot] = { device: `${pick(["gpu", "pci", "usb"])}-${slot}`, romBar: r() < 0.7 };
  }
  const uefi = r() < 0.5;
  const consoleKind = pick(["none", "vnc", "spice"] as const);
  return vm({
    name: `vm-${seed}`,
    machine: pick(["q35", "q35", "pc"]),
    cpu,
    memory: {
      sizeMiB,
      maxMiB: maybe(() => sizeMiB * int(1, 4)),
      hugepages: maybe(() => ({ pageSizeKiB: pick([2048, 1048576] as const) })),
      balloon: maybe(() => ({ statsPeriodSeconds: int(1, 60) })),
    },
    disks,
    nics,
    passthrough,
    firmware: { type: uefi ? "uefi" : "bios", secureBoot: uefi && r() < 0.5, tpm: r() < 0.3 },
    cloudInit: maybe(() => ({ userData: "#cloud-config\n" })),
    console: { kind: consoleKind, listen: pick(["127.0.0.1", "0.0.0.0", "::1"]), password: consoleKind === "none" ? undefined : maybe(() => "p<a&s\"s'") },
    labels: maybe(() => ({ env: "test", "a/b": `x&y<${seed}>` })),
  });
}

/** What parsing the built XML must give back: the spec's fields as the builder emits them. */
export function expectedParse(spec: VirtualMachineSpec, ctx: DomainBuildContext) {
  const vcpus = spec.cpu.sockets * spec.cpu.cores * spec.cpu.threads;
  const pinning = spec.cpu.pinning && Object.keys(spec.cpu.pinning).length > 0 ? spec.cpu.pinning : undefined;
  return {
    name: spec.name,
    machine: spec.machine,
    type: ctx.type,
    cpu: strip({
      sockets: spec.cpu.sockets,
      cores: spec.cpu.cores,
      threads: spec.cpu.threads,
      maxVcpus: spec.cpu.maxVcpus !== undefined && spec.cpu.maxVcpus > vcpus ? spec.cpu.maxVcpus : undefined,
      mode: spec.cpu.mode,
      model: spec.cpu.mode === "custom" ? spec.cpu.model : undefined,
      pinning,
      emulatorPinning: spec.cpu.emulatorPinning,
      numa: spec.cpu.numa?.map((c) => strip({ vcpus: c.vcpus, memoryMiB: c.memoryMiB, hostNode: c.hostNode })),
    }),
    memory: strip({
      sizeMiB: spec.memory.sizeMiB,
      maxMiB: spec.memory.maxMiB !== undefined && spec.memory.maxMiB > spec.memory.sizeMiB ? spec.memory.maxMiB : undefined,
      hugepages: spec.memory.hugepages,
      balloon: spec.memory.balloon && spec.memory.balloon.statsPeriodSeconds > 0 ? { statsPeriodSeconds: spec.memory.balloon.statsPeriodSeconds } : undefined,
    }),
    disks: Object.fromEntries(
      Object.entries(spec.disks).map(([slot, d]) => {
        const src = ctx.disks[slot];
        return [
          slot,
          strip({
            bus: d.bus,
            targetDev: slotToTargetDev(slot),
            format: src.format ?? d.format ?? "qcow2",
            cache: d.cache,
            io: d.io,
            iothread: d.iothread,
            bootOrder: d.bootOrder,
            readOnly: d.readOnly,
            source:
              src.kind === "file"
                ? { kind: "file", path: src.path }
                : src.kind === "block"
                  ? { kind: "block", dev: src.dev }
                  : { kind: "volume", pool: src.pool, volume: src.volume },
          }),
        ];
      }),
    ),
    nics: Object.fromEntries(
      Object.entries(spec.nics).map(([slot, n]) => [
        slot,
        strip({
          type: n.bridge !== undefined ? "bridge" : "network",
          model: n.sriovPool !== undefined ? undefined : n.model,
          mac: n.mac ?? ctx.macs?.[slot],
          queues: n.sriovPool !== undefined ? 1 : n.queues,
          network: n.network,
          bridge: n.bridge,
          sriovPool: n.sriovPool,
          vlan: n.vlan,
          bootOrder: n.bootOrder,
        }),
      ]),
    ),
    passthrough: Object.fromEntries(
      Object.entries(spec.passthrough).map(([slot, p]) => {
        const src = ctx.passthrough?.[p.device];
        if (!src) throw new Error(`test context lacks ${p.device}`);
        return [
          slot,
          src.kind === "pci"
            ? { kind: "pci", address: src.address, managed: src.managed ?? true, romBar: p.romBar }
            : { kind: "usb", vendorId: src.vendorId, productId: src.productId, managed: src.managed ?? true, romBar: true },
        ];
      }),
    ),
    firmware: { type: spec.firmware.type, secureBoot: spec.firmware.secureBoot, tpm: spec.firmware.tpm },
    console: spec.console.kind === "none" ? { kind: "none" } : strip({ kind: spec.console.kind, listen: spec.console.listen, password: spec.console.password }),
    cloudInitSeed: spec.cloudInit ? ctx.cloudInitSeed : undefined,
    labels: spec.labels,
    owned: true,
    resource: ctx.ownership.resource,
  };
}

/** The same projection of a parse result, for deepEqual against expectedParse. */
export function projectParse(p: ParsedDomain) {
  return {
    name: p.name,
    machine: p.machine,
    type: p.type,
    cpu: p.cpu,
    memory: p.memory,
    // Drive addresses are placement facts the builder keeps, not spec fields.
    disks: Object.fromEntries(Object.entries(p.disks).map(([slot, { address: _address, ...disk }]) => [slot, disk])),
    nics: p.nics,
    passthrough: p.passthrough,
    firmware: { type: p.firmware.type, secureBoot: p.firmware.secureBoot, tpm: p.firmware.tpm },
    console: p.console,
    cloudInitSeed: p.cloudInitSeed,
    labels: p.labels,
    owned: p.ownership.owned,
    resource: p.ownership.resource,
  };
}

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A boot order no other device of the domain has taken yet, or none. */
function takeBootOrder(used: Set<number>, boot: number | undefined): number | undefined {
  if (boot === undefined || used.has(boot)) return undefined;
  used.add(boot);
  return boot;
}
