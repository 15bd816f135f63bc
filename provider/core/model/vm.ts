import { z } from "zod";
import { CpuSet, HostRef, Labels, MacAddress, ObjectName, parseCpuSet } from "./common";

/**
 * `scsi` is a SCSI disk behind an emulated HBA (lsilogic and the like) rather than virtio-scsi;
 * `ide`, `usb` and `sd` are the emulated buses real hosts hold (virt-install and older guests).
 */
export const DiskBus = z.enum(["virtio-blk", "virtio-scsi", "sata", "nvme", "ide", "scsi", "usb", "sd"]);
export type DiskBus = z.infer<typeof DiskBus>;
/** `hypervisor-default`: no model is set and the hypervisor picks its own (a NIC with no <model>). */
export const NicModel = z.enum(["virtio", "e1000e", "vmxnet3", "rtl8139", "e1000", "pcnet", "ne2k_pci", "i82551", "i82557b", "i82559er", "vmxnet2", "hypervisor-default"]);
export type NicModel = z.infer<typeof NicModel>;
/** `hypervisor-default`: no CPU mode or model is set; the emulator's default CPU (libvirt: no <cpu> model). */
export const CpuMode = z.enum(["host-passthrough", "host-model", "custom", "hypervisor-default"]);
export type CpuMode = z.infer<typeof CpuMode>;

/** Slot names are the device identity: reordering the map never replaces a disk or NIC. */
/**
 * Besides the model's own families, the names real hosts use: `hda`-`hdz` (IDE), `vdaa`-`vdzz`
 * beyond the 26th virtio disk. `sd` names past `sdz` stay reserved for scsiN/sataN.
 */
export const DiskSlot = z
  .string()
  .regex(/^(vd[a-z]{1,2}|sd[a-z]|hd[a-z]|scsi\d{1,2}|sata\d{1,2}|nvme\d{1,2})$/, "disk slots are vda-vdzz, sda-sdz, hda-hdz, scsi0-99, sata0-99 or nvme0-99");
export const NicSlot = z.string().regex(/^net\d{1,2}$/, "NIC slots are net0-net99");
export const HostdevSlot = z.string().regex(/^hostdev\d{1,2}$/, "passthrough slots are hostdev0-hostdev99");

/** The bus a slot implies when `bus` is not given, so `scsi0` alone means a virtio-scsi disk. */
export function busForSlot(slot: string): DiskBus {
  if (slot.startsWith("scsi") || slot.startsWith("sd")) return "virtio-scsi";
  if (slot.startsWith("sata")) return "sata";
  if (slot.startsWith("nvme")) return "nvme";
  if (slot.startsWith("hd")) return "ide";
  return "virtio-blk";
}

const Cpu = z
  .strictObject({
    sockets: z.int().min(1).max(16).default(1),
    cores: z.int().min(1).max(512).default(1),
    threads: z.int().min(1).max(8).default(1),
    maxVcpus: z.int().min(1).max(4096).optional().describe("Upper bound for vCPU hot-add; the VM boots with sockets×cores×threads."),
    mode: CpuMode.default("host-model"),
    model: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional()
      .describe("Named CPU model when mode is `custom`, e.g. `Skylake-Server`."),
    pinning: z
      .record(z.string().regex(/^(0|[1-9]\d{0,3})$/, 'pinning keys are vCPU numbers such as "0", without leading zeros'), CpuSet)
      .optional()
      .describe('vCPU number → host CPU set, e.g. { "0": "2", "1": "3" }.'),
    emulatorPinning: CpuSet.optional().describe("Host CPU set for the emulator threads."),
    numa: z
      .array(
        z.strictObject({
          vcpus: CpuSet.describe("The VM's vCPUs in this cell."),
          memoryMiB: z.int().min(0),
          hostNode: z.int().min(0).optional().describe("Host NUMA node whose memory backs this cell (strict binding)."),
        }),
      )
      .optional(),
  })
  .default({ sockets: 1, cores: 1, threads: 1, mode: "host-model" });

const Memory = z.strictObject({
  sizeMiB: z
    .int()
    .min(1)
    .max(16 * 1024 * 1024)
    .describe("Memory the VM runs with, in MiB."),
  maxMiB: z.int().min(1).optional().describe("Ceiling the memory can be raised to without a reboot (balloon/hotplug)."),
  hugepages: z.strictObject({ pageSizeKiB: z.union([z.literal(2048), z.literal(1048576)]).default(2048) }).optional(),
  balloon: z
    .strictObject({
      minMiB: z.int().min(16).optional(),
      statsPeriodSeconds: z.int().min(0).max(3600).default(10),
    })
    .optional(),
});

const Disk = z.strictObject({
  bus: DiskBus.optional(),
  volume: z.string().min(1).optional().describe("Id of a Volume resource (or an existing volume path/name on the host)."),
  sizeGiB: z.number().positive().max(65536).optional().describe("With `pool`: create a blank disk of this size."),
  pool: z.string().min(1).optional(),
  format: z.enum(["qcow2", "raw", "vmdk"]).optional(),
  cache: z
    .enum(["none", "writeback", "writethrough", "directsync", "unsafe", "hypervisor-default"])
    .default("none")
    .describe("`hypervisor-default` sets no cache mode: the hypervisor's own default applies (what a disk attached without one has)."),
  io: z.enum(["native", "threads", "io_uring"]).optional(),
  discard: z.enum(["unmap", "ignore"]).optional().describe("Pass the guest's TRIM/UNMAP to the image (`unmap`), as virt-install sets for qcow2 disks."),
  detectZeroes: z.enum(["off", "on", "unmap"]).optional().describe("Turn writes of zeroes into sparse regions."),
  iothread: z.int().min(1).max(64).optional(),
  bootOrder: z.int().min(1).max(64).optional(),
  readOnly: z.boolean().default(false),
});

/** The bus a CD-ROM slot implies: `hdc` is IDE, `sdb` and `sata1` SATA, `scsi2` SCSI. */
export function cdromBusForSlot(slot: string): "ide" | "sata" | "scsi" {
  if (slot.startsWith("hd")) return "ide";
  if (slot.startsWith("scsi")) return "scsi";
  return "sata";
}

const Cdrom = z.strictObject({
  bus: z.enum(["ide", "sata", "scsi", "usb"]).optional().describe("Defaults from the slot: hdX is IDE, sdX and sataN SATA, scsiN SCSI."),
  image: z.string().regex(/^\//, "must be an absolute path on the host").optional().describe("ISO image on the host; unset: an empty drive."),
  bootOrder: z.int().min(1).max(64).optional(),
});

const Nic = z.strictObject({
  model: NicModel.default("virtio"),
  mac: MacAddress.optional(),
  queues: z.int().min(1).max(256).default(1),
  network: z.string().min(1).optional().describe("Name of a Network resource or hypervisor network/portgroup."),
  bridge: z.string().min(1).optional().describe("An existing host bridge, e.g. `br0`."),
  sriovPool: z.string().min(1).optional().describe("An SR-IOV Network (mode `sriov`) to take a virtual function from."),
  direct: z
    .strictObject({
      device: z.string().min(1).describe("Host interface, e.g. `eth0`."),
      mode: z.enum(["vepa", "bridge", "private", "passthrough"]).default("vepa"),
    })
    .optional()
    .describe('A macvtap NIC on a host interface (libvirt `type="direct"`).'),
  user: z.boolean().optional().describe("`true`: user-mode networking inside the emulator (no host setup; outbound only)."),
  ethernet: z
    .strictObject({
      tap: z.string().min(1).optional().describe("An existing tap device; unset lets the hypervisor make one."),
    })
    .optional()
    .describe('A plain tap device with no bridge or network (libvirt `type="ethernet"`).'),
  vlan: z.int().min(1).max(4094).optional(),
  bootOrder: z.int().min(1).max(64).optional(),
});

const Passthrough = z.strictObject({
  device: z.string().min(1).describe("Id of a PassthroughDevice resource."),
  romBar: z.boolean().default(true),
});

export const VirtualMachineInputs = z
  .strictObject({
    host: HostRef,
    name: ObjectName.describe("Name of the VM on the hypervisor. Changing it replaces the VM."),
    machine: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default("q35")
      .describe("Machine type, e.g. `q35`, `pc`."),
    cpu: Cpu,
    memory: Memory,
    disks: z.record(DiskSlot, Disk).default({}),
    // No default: state written before CD-ROMs were managed has no such key, and `{}` against
    // nothing would plan a change for every existing VM.
    cdroms: z.record(DiskSlot, Cdrom).optional().describe("CD-ROM drives keyed by slot (`hdc`, `sdb`, `sata1` …)."),
    nics: z.record(NicSlot, Nic).default({}),
    passthrough: z.record(HostdevSlot, Passthrough).default({}),
    firmware: z
      .strictObject({
        type: z.enum(["bios", "uefi"]).default("bios"),
        secureBoot: z.boolean().default(false),
        tpm: z.boolean().default(false),
      })
      .default({ type: "bios", secureBoot: false, tpm: false }),
    kernelBoot: z
      .strictObject({
        kernel: z.string().regex(/^\//, "must be an absolute path on the host"),
        initrd: z.string().regex(/^\//, "must be an absolute path on the host").optional(),
        cmdline: z.string().max(4096).optional(),
      })
      .optional()
      .describe("Boot a kernel (and initrd) straight from the host's file system instead of firmware booting a disk."),
    cloneFrom: z
      .strictObject({
        template: z.string().min(1).describe("The template to copy: its name on the host, or its id (a Proxmox VE VM id such as `9000`)."),
        linked: z.boolean().default(false).describe("`true`: disks share the template's base image (copy-on-write, fast, needs the template to stay); `false`: full copies."),
        storage: z.string().min(1).optional().describe("Where a full clone's disks go; unset: the template's own storage. Not accepted with `linked`."),
      })
      .optional()
      .describe("Create the VM as a clone of a template, then apply this spec's settings over it and grow its disks to the sizes given. Only read at creation."),
    restoreFrom: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A backup archive to create the VM from (a Backup's `archive` output, e.g. `local:backup/vzdump-qemu-104-….vma.zst`): its disks and settings, then this spec's settings written over them. Only read at creation.",
      ),
    cloudInit: z
      .strictObject({
        userData: z.string().optional().describe("cloud-config user data (secret: may hold passwords and keys)."),
        metaData: z.string().optional(),
        networkConfig: z.string().optional(),
        user: z
          .strictObject({
            name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "a Linux user name: lower-case letters, digits, _ and -, at most 32"),
            password: z.string().min(1).optional().describe("The user's password (secret)."),
          })
          .optional()
          .describe("The default user cloud-init creates (Proxmox VE: ciuser/cipassword)."),
        sshKeys: z
          .array(
            z
              .string()
              .regex(
                /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( [^\n]*)?$/,
                "one OpenSSH public key per entry (type, base64, optional comment)",
              ),
          )
          .optional()
          .describe("Public keys the default user can log in with."),
        ipConfig: z
          .record(
            NicSlot,
            z.strictObject({
              ipv4: z
                .string()
                .regex(/^(dhcp|(\d{1,3}\.){3}\d{1,3}\/\d{1,2})$/, '"dhcp" or an address with its prefix, e.g. 10.0.0.5/24')
                .optional(),
              gateway4: z.ipv4().optional(),
              ipv6: z
                .string()
                .regex(/^(dhcp|auto|[0-9a-fA-F:]+\/\d{1,3})$/, '"dhcp", "auto" or an address with its prefix')
                .optional(),
              gateway6: z.ipv6().optional(),
            }),
          )
          .optional()
          .describe("Addresses per NIC slot, as cloud-init configures them (Proxmox VE: ipconfigN)."),
      })
      .optional()
      .describe("Cloud-init: raw documents (userData, metaData, networkConfig) or, where the driver takes them, a user, SSH keys and addresses per NIC."),
    console: z
      .strictObject({
        kind: z.enum(["none", "vnc", "spice"]).default("none"),
        listen: z.string().default("127.0.0.1"),
        password: z.string().optional().describe("Console password (secret)."),
      })
      .default({ kind: "none", listen: "127.0.0.1" }),
    powerState: z.enum(["running", "stopped", "paused"]).default("running"),
    updatePolicy: z
      .strictObject({
        allowReboot: z.boolean().default(false).describe("Allow changes that restart the guest."),
        shutdownTimeoutSeconds: z.int().min(0).max(3600).default(120).describe("Graceful shutdown deadline before a forced power-off."),
        // Optional, not defaulted: a default would differ from every state recorded before the
        // field existed, and each VM would show a no-op update after an upgrade.
        allowPostCopy: z
          .boolean()
          .optional()
          .describe(
            "Let a live migration that does not converge finish by post-copy (KVM/QEMU): the guest runs on the new host while the rest of its memory follows on demand. Bounds the time a busy guest takes to move; a network or host failure in that phase leaves the guest paused on both hosts until the migration is resumed. Default: false.",
          ),
      })
      .default({ allowReboot: false, shutdownTimeoutSeconds: 120 }),
    waitForIp: z.strictObject({ timeoutSeconds: z.int().min(1).max(3600).default(300) }).optional(),
    stateful: z.boolean().default(false).describe("Marks a VM whose disks hold data; policy packs can forbid replacing it."),
    labels: Labels,
  })
  .superRefine((vm, ctx) => {
    const vcpus = vm.cpu.sockets * vm.cpu.cores * vm.cpu.threads;
    const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (vm.cpu.maxVcpus !== undefined && vm.cpu.maxVcpus < vcpus) {
      fail(["cpu", "maxVcpus"], `got ${vm.cpu.maxVcpus}; must be at least sockets×cores×threads = ${vcpus}`);
    }
    if (vm.cpu.mode === "custom" && !vm.cpu.model) fail(["cpu", "model"], 'is required when cpu.mode is "custom" (e.g. "Skylake-Server")');
    if (vm.cpu.mode !== "custom" && vm.cpu.model) fail(["cpu", "model"], `got "${vm.cpu.model}"; only accepted with cpu.mode "custom"`);
    for (const key of Object.keys(vm.cpu.pinning ?? {})) {
      if (Number(key) >= vcpus) fail(["cpu", "pinning", key], `vCPU ${key} does not exist; this VM has vCPUs 0-${vcpus - 1}`);
    }
    if (vm.cpu.numa) checkNuma(vm.cpu.numa, vcpus, vm.memory.sizeMiB, vm.memory.maxMiB, fail);
    if (vm.memory.maxMiB !== undefined && vm.memory.maxMiB < vm.memory.sizeMiB) {
      fail(["memory", "maxMiB"], `got ${vm.memory.maxMiB}; must be at least memory.sizeMiB (${vm.memory.sizeMiB})`);
    }
    if (vm.memory.balloon?.minMiB !== undefined && vm.memory.balloon.minMiB > vm.memory.sizeMiB) {
      fail(["memory", "balloon", "minMiB"], `got ${vm.memory.balloon.minMiB}; must be at most memory.sizeMiB (${vm.memory.sizeMiB})`);
    }
    for (const [slot, disk] of Object.entries(vm.disks)) {
      const blank = disk.sizeGiB !== undefined || disk.pool !== undefined;
      if (disk.volume && blank) fail(["disks", slot], "give either `volume`, or `sizeGiB` with `pool`, not both");
      else if (!disk.volume && (disk.sizeGiB === undefined || disk.pool === undefined)) {
        fail(["disks", slot], "needs a source: `volume` (a Volume id), or `sizeGiB` and `pool` for a blank disk");
      }
    }
    for (const slot of Object.keys(vm.cdroms ?? {})) {
      if (slot.startsWith("vd") || slot.startsWith("nvme")) fail(["cdroms", slot], `"${slot}" is a virtio/NVMe disk name; CD-ROM slots are hdX, sdX, sataN or scsiN`);
      else if (slot in vm.disks) fail(["cdroms", slot], `slot "${slot}" is already a disk (disks.${slot})`);
    }
    for (const [slot, nic] of Object.entries(vm.nics)) {
      const sources = [nic.network, nic.bridge, nic.sriovPool, nic.direct, nic.user || undefined, nic.ethernet].filter((s) => s !== undefined).length;
      if (sources !== 1) fail(["nics", slot], "needs exactly one of `network`, `bridge`, `sriovPool`, `direct`, `user: true` or `ethernet`");
    }
    if (vm.cloudInit) checkCloudInit(vm.cloudInit, Object.keys(vm.nics), fail);
    if (vm.cloneFrom?.linked && vm.cloneFrom.storage !== undefined) {
      fail(["cloneFrom", "storage"], `got "${vm.cloneFrom.storage}"; a linked clone stays on the template's storage, so storage is only accepted with linked: false`);
    }
    if (vm.cloneFrom && vm.restoreFrom !== undefined) fail(["restoreFrom"], "give either cloneFrom (a template) or restoreFrom (a backup archive), not both");
    if (vm.firmware.secureBoot && vm.firmware.type !== "uefi") {
      fail(["firmware", "secureBoot"], 'secure boot needs firmware.type "uefi"');
    }
    const macs = Object.entries(vm.nics)
      .filter(([, n]) => n.mac)
      .map(([slot, n]) => [slot, n.mac] as const);
    const seen = new Map<string, string>();
    for (const [slot, mac] of macs) {
      if (seen.has(mac!)) fail(["nics", slot, "mac"], `got "${mac}"; already used by nics.${seen.get(mac!)}`);
      seen.set(mac!, slot);
    }
  })
  .transform((vm) => ({
    ...vm,
    // Normalised so two spellings of one VM never produce a diff.
    disks: Object.fromEntries(Object.entries(vm.disks).map(([slot, d]) => [slot, { ...d, bus: d.bus ?? busForSlot(slot) }])),
    ...(vm.cdroms ? { cdroms: Object.fromEntries(Object.entries(vm.cdroms).map(([slot, c]) => [slot, { ...c, bus: c.bus ?? cdromBusForSlot(slot) }])) } : {}),
    cpu: { ...vm.cpu, pinning: vm.cpu.pinning ? Object.fromEntries(Object.entries(vm.cpu.pinning).map(([k, v]) => [String(Number(k)), v])) : undefined },
  }));

type Fail = (path: PropertyKey[], message: string) => void;

function checkCloudInit(
  ci: { userData?: string; user?: unknown; sshKeys?: unknown; ipConfig?: Record<string, { ipv4?: string; gateway4?: string; ipv6?: string; gateway6?: string }> },
  nics: string[],
  fail: Fail,
): void {
  if (ci.userData === undefined && ci.user === undefined && ci.sshKeys === undefined && ci.ipConfig === undefined) {
    fail(["cloudInit"], "needs userData, or a user, sshKeys or ipConfig");
  }
  for (const [slot, ip] of Object.entries(ci.ipConfig ?? {})) {
    if (!nics.includes(slot)) fail(["cloudInit", "ipConfig", slot], `the VM has no NIC "${slot}"; its NICs are ${nics.join(", ") || "none"}`);
    if (ip.gateway4 !== undefined && (ip.ipv4 === undefined || ip.ipv4 === "dhcp"))
      fail(["cloudInit", "ipConfig", slot, "gateway4"], "is only accepted with a static ipv4 address");
    if (ip.gateway6 !== undefined && (ip.ipv6 === undefined || !ip.ipv6.includes("/")))
      fail(["cloudInit", "ipConfig", slot, "gateway6"], "is only accepted with a static ipv6 address");
  }
}

function checkNuma(cells: { vcpus: string; memoryMiB: number }[], vcpus: number, memoryMiB: number, maxMiB: number | undefined, fail: Fail): void {
  const owner = new Map<number, number>();
  let total = 0;
  cells.forEach((cell, i) => {
    total += cell.memoryMiB;
    for (const cpu of parseCpuSet(cell.vcpus)) {
      if (cpu >= vcpus) fail(["cpu", "numa", i, "vcpus"], `vCPU ${cpu} does not exist; this VM has vCPUs 0-${vcpus - 1}`);
      else if (owner.has(cpu)) fail(["cpu", "numa", i, "vcpus"], `vCPU ${cpu} is already in cell ${owner.get(cpu)}`);
      owner.set(cpu, i);
    }
  });
  // Hosts also hold NUMA guests ballooned below their cells (the cells then make up memory.maxMiB)
  // and guests with hot-plugged DIMMs beyond the cells (up to memory.maxMiB); the driver checks those.
  const ballooned = maxMiB !== undefined && total === maxMiB && memoryMiB < maxMiB;
  const dimms = maxMiB !== undefined && total < memoryMiB && memoryMiB <= maxMiB;
  if (total !== memoryMiB && !ballooned && !dimms) {
    fail(["cpu", "numa"], `the cells hold ${total} MiB in all; they must add up to memory.sizeMiB (${memoryMiB})`);
  }
}

export type VirtualMachineArgs = z.input<typeof VirtualMachineInputs>;
export type VirtualMachineSpec = z.output<typeof VirtualMachineInputs>;
export type DiskSpec = VirtualMachineSpec["disks"][string];
export type NicSpec = VirtualMachineSpec["nics"][string];
export type CdromSpec = NonNullable<VirtualMachineSpec["cdroms"]>[string];

/** Inputs whose values are secrets: never logged, never echoed in errors, hashed in state. */
export const VM_SECRET_FIELDS = ["cloudInit.userData", "cloudInit.user.password", "console.password"] as const;

export function vcpuCount(vm: Pick<VirtualMachineSpec, "cpu">): number {
  return vm.cpu.sockets * vm.cpu.cores * vm.cpu.threads;
}
