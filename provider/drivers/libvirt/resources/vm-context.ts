import { randomBytes } from "node:crypto";
import type { DiskLocation } from "../../../core/disk-transfer";
import { buildNoCloudSeed, seedInstanceId } from "../../../core/cloud-init";
import type { VirtualMachineSpec } from "../../../core/model";
import { checkVmAgainstHost } from "../host-checks";
import { hostDomainType } from "../host-facts";
import type { LibvirtSession } from "../session";
import { ensureVolume, resolveVolume, type ResolvedVolume } from "../volumes";
import type { DiskSource, DomainBuildContext, DomainType, DriveAddress, ParsedDomain } from "../xml";

const GIB = 1024 ** 3;

/** Names of the volumes NovaCron makes for a VM, so delete can find them again. */
export function blankDiskName(vm: string, slot: string): string {
  return `${vm}-${slot}.qcow2`;
}
export function seedVolumeName(vm: string): string {
  return `${vm}-cidata.iso`;
}

/**
 * Resolves everything the model refers to by id into what libvirt addresses: volume paths,
 * blank disks and the cloud-init seed (made on the host if missing), passthrough addresses.
 * The host checks run first, so create and update refuse before touching the host.
 */
export async function resolveDomainContext(
  session: LibvirtSession,
  vm: VirtualMachineSpec,
  known: {
    uuid?: string;
    macs?: Record<string, string>;
    seedSalt?: string;
    attachedPaths?: ReadonlySet<string>;
    current?: ParsedDomain;
    /** Disks a cross-hypervisor move imported for these slots (under the made names). */
    imported?: Readonly<Record<string, DiskLocation>>;
  } = {},
): Promise<DomainBuildContext> {
  // A volume of a predictable name is this VM's only if its current definition uses it, or the
  // move that is creating the VM imported it for the slot.
  const imported = new Set(Object.values(known.imported ?? {}).map((d) => d.address));
  const ours = (path: string) => known.attachedPaths?.has(path) === true || imported.has(path);
  // Before any volume is made: a spec the host cannot run must leave nothing behind.
  const passthrough = await checkVmAgainstHost(session, vm);
  const client = await session.get();
  const disks: Record<string, DiskSource> = {};
  let seedPool: string | undefined;
  const given = new Map<string, ResolvedVolume>();
  // Every given volume is looked up before the first blank disk is made, for the same reason.
  for (const [slot, disk] of Object.entries(vm.disks)) {
    if (!disk.volume) continue;
    const found = await resolveVolume(client, disk.volume);
    const held = known.current ? hostSource(known.current, slot, disk.volume) : undefined;
    if (!found && held) {
      // A disk the host already has on a path no storage pool holds (attached outside NovaCron): kept as it is.
      disks[slot] = held;
      continue;
    }
    if (!found) throw new Error(`disks.${slot}.volume: no volume "${disk.volume}" on host "${session.host}" (give a Volume id, its path, or pool/name)`);
    given.set(slot, found);
  }
  for (const [slot, disk] of Object.entries(vm.disks)) {
    const found = given.get(slot);
    if (disks[slot]) continue;
    if (found) {
      disks[slot] = { kind: "file", path: found.path, format: disk.format ?? found.format ?? "raw" };
      seedPool ??= found.ref.pool;
    } else {
      const made = await ensureVolume(
        client,
        disk.pool!,
        { name: blankDiskName(vm.name, slot), capacityBytes: Math.round(disk.sizeGiB! * GIB), format: "qcow2" },
        { field: `disks.${slot}`, ours },
      );
      disks[slot] = { kind: "file", path: made.path, format: known.imported?.[slot]?.format ?? "qcow2" };
      seedPool ??= disk.pool;
    }
  }
  let cloudInitSeed: string | undefined;
  // A new VM gets a salt of its own; an existing one keeps its salt, or none if it predates salts.
  const seedSalt = known.uuid === undefined ? randomBytes(16).toString("hex") : known.seedSalt;
  if (vm.cloudInit) {
    if (!seedPool) throw new Error("cloudInit: the seed ISO is stored in the pool of the VM's first disk, and this VM has no disk");
    // The capability check leaves only document cloud-init to this driver (no structuredCloudInit).
    const { userData = "", metaData, networkConfig } = vm.cloudInit;
    const instanceId = seedInstanceId(userData, metaData, networkConfig, seedSalt);
    const image = buildNoCloudSeed({ userData, metaData, networkConfig, instanceId, hostname: vm.name });
    cloudInitSeed = (
      await ensureVolume(client, seedPool, { name: seedVolumeName(vm.name), capacityBytes: image.length, format: "raw", content: image }, { field: "cloudInit", ours })
    ).path;
  }
  const type = await hostDomainType(session);
  return {
    // The test driver accepts its own type only; the builder treats it like TCG.
    type: type as DomainType,
    uuid: known.uuid,
    disks,
    macs: known.macs,
    passthrough,
    cloudInitSeed,
    seedSalt,
    boot: vm.kernelBoot,
    ownership: { resource: vm.name },
    ...(known.current ? { preserved: known.current.preserved, driveAddresses: driveAddressesOf(known.current), emulator: known.current.emulator } : {}),
    // UEFI images the host's definition names explicitly stay; without them libvirt autoselects.
    ...(known.current?.firmware.loader !== undefined && vm.firmware.type === "uefi"
      ? { uefi: { loader: known.current.firmware.loader, ...(known.current.firmware.nvram !== undefined ? { nvram: known.current.firmware.nvram } : {}) } }
      : {}),
  };
}

/** The host's own source for a slot when the spec names exactly that path. */
function hostSource(current: ParsedDomain, slot: string, volume: string): DiskSource | undefined {
  const disk = current.disks[slot];
  const src = disk?.source;
  const format = (disk?.format ?? "raw") as NonNullable<DiskSource["format"]>;
  if (src?.kind === "file" && src.path === volume) return { kind: "file", path: src.path, format };
  if (src?.kind === "block" && src.dev === volume) return { kind: "block", dev: src.dev, format };
  return undefined;
}

/** Slot → the drive address each managed disk has on the host, so a re-define moves none. */
export function driveAddressesOf(current: ParsedDomain): Record<string, DriveAddress> {
  const out: Record<string, DriveAddress> = {};
  for (const [slot, disk] of Object.entries(current.disks)) {
    const on = disk.bus === "virtio-blk" ? "virtio" : disk.bus === "virtio-scsi" ? "scsi" : disk.bus;
    if (disk.address) out[slot] = { on, ...disk.address };
  }
  for (const [slot, cdrom] of Object.entries(current.cdroms)) {
    if (cdrom.address && cdrom.bus !== undefined) out[slot] = { on: cdrom.bus, ...cdrom.address };
  }
  return out;
}
