import type { HypervisorCapabilities } from "./capabilities";
import type { InputFailure } from "./errors";
import type { VirtualMachineSpec } from "./model";

/**
 * Planning a VM's move to another kind of hypervisor (issue #12): a cold move in which the
 * guest is shut down, its disks are copied and converted, and the VM is defined again on the
 * target. Only disks the VM owns (`pool` + `sizeGiB`) can follow: a `volume` disk belongs to a
 * separate Volume resource that stays on its host.
 */

/** The `why` of a cross-hypervisor `host` change, as shown in plannedChanges. */
export function crossMoveWhy(old: VirtualMachineSpec, target: HypervisorCapabilities): string {
  const disks = Object.values(old.disks);
  const gib = disks.reduce((sum, d) => sum + (d.sizeGiB ?? 0), 0);
  const format = target.volumeFormats[0];
  const parts = [
    "cold, cross-hypervisor",
    old.powerState === "running" ? "shutdown on the source, start on the target" : "the stopped VM is defined on the target",
    `${gib} GiB of disks copied (${disks.length} disk${disks.length === 1 ? "" : "s"}) and checked by checksum`,
    `images converted to ${format} for ${target.product}`,
    "the source VM is removed only after the target VM runs",
  ];
  return parts.join(", ");
}

/** Why a field changed together with a cross-hypervisor move is made as part of it. */
export function absorbedWhy(why: string): string {
  return `set on the target as part of the cross-hypervisor move (alone it would be: ${why})`;
}

/**
 * What the target cannot take from this VM, field by field. Features the target's capability
 * table lacks are refused by the ordinary capability check of the new spec; these are the
 * things that cannot cross hypervisor kinds at all.
 */
export function checkCrossMove(old: VirtualMachineSpec, next: VirtualMachineSpec, from: HypervisorCapabilities, to: HypervisorCapabilities): InputFailure[] {
  const failures: InputFailure[] = [];
  const direction = `${from.product} to ${to.product}`;
  for (const slot of Object.keys(old.passthrough)) {
    failures.push({
      property: `passthrough.${slot}`,
      reason: `a passthrough device is a physical device of host "${old.host}"; it cannot follow the VM from ${direction}. Remove it (passthrough.${slot}) before changing host`,
    });
  }
  for (const [slot, disk] of Object.entries(old.disks)) {
    if (disk.volume !== undefined) {
      failures.push({
        property: `disks.${slot}.volume`,
        reason: `got "${disk.volume}", a Volume resource that stays on host "${old.host}"; a move from ${direction} copies only disks the VM owns (pool + sizeGiB)`,
      });
    }
  }
  for (const [slot, disk] of Object.entries(next.disks)) {
    if (disk.format !== undefined && !to.volumeFormats.includes(disk.format)) {
      failures.push({ property: `disks.${slot}.format`, reason: `got "${disk.format}"; ${to.product} stores disks as ${to.volumeFormats.join(", ")}` });
    }
    if (!(slot in old.disks)) {
      failures.push({ property: `disks.${slot}`, reason: "a disk cannot be added in the same update as a cross-hypervisor move; add it after the move" });
    }
  }
  for (const [slot, disk] of Object.entries(old.disks)) {
    const after = next.disks[slot];
    if (after && disk.sizeGiB !== undefined && after.sizeGiB !== undefined && after.sizeGiB !== disk.sizeGiB) {
      failures.push({
        property: `disks.${slot}.sizeGiB`,
        reason: `got ${after.sizeGiB}, was ${disk.sizeGiB}; a disk moves at the size it has, so change its size in an update before or after the move`,
      });
    }
  }
  for (const slot of Object.keys(old.disks)) {
    if (!(slot in next.disks))
      failures.push({ property: `disks.${slot}`, reason: "a disk cannot be removed in the same update as a cross-hypervisor move; remove it before or after" });
  }
  if (old.cdroms && Object.values(old.cdroms).some((c) => c.image !== undefined)) {
    failures.push({ property: "cdroms", reason: `CD-ROM images are files on host "${old.host}" and are not copied; eject them (cdroms.*.image) before the move` });
  }
  failures.push(...notCarriedOutYet(from, to));
  return failures;
}

/**
 * Driver pairs whose disk data paths (export on the source, import on the target) and VM
 * creates over imported disks exist (core/cross-move-task.ts carries the move out). Any other
 * pair is refused at preview, never attempted at `up`.
 */
export const CROSS_MOVE_PAIRS: readonly string[] = ["KVM/QEMU (libvirt)->VMware vSphere", "VMware vSphere->KVM/QEMU (libvirt)"];

function notCarriedOutYet(from: HypervisorCapabilities, to: HypervisorCapabilities): InputFailure[] {
  if (CROSS_MOVE_PAIRS.includes(`${from.product}->${to.product}`)) return [];
  return [
    {
      property: "host",
      reason: `a move from ${from.product} to ${to.product} is planned as a cold cross-hypervisor migration, but this version cannot carry it out yet (no disk export/import path for this pair); keep the old host, or destroy the VM and create it on the new host`,
    },
  ];
}
