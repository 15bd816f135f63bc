import type { ChangePlan } from "../../../core/classify";
import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import type { DomainRef, LibvirtClient } from "../rpc";
import { orAbsent } from "../session";
import { slotToTargetDev } from "../xml";
import { blankDiskName } from "./vm-context";

const GIB = 1024 ** 3;
/** virDomainBlockResizeFlags: the size is in bytes, not KiB. */
const BLOCK_RESIZE_BYTES = 1;

/** Slots whose blank disk (pool + sizeGiB) the plan grows, with the new size in bytes. */
export function grownDisks(plan: ChangePlan, old: VirtualMachineSpec, next: VirtualMachineSpec): { slot: string; bytes: bigint }[] {
  return plan.changes.flatMap((c) => {
    const [group, slot, field] = c.path.split(".");
    if (group !== "disks" || field !== "sizeGiB") return [];
    const before = old.disks[slot]?.sizeGiB;
    const after = next.disks[slot]?.sizeGiB;
    if (before === undefined || after === undefined || after <= before || !next.disks[slot].pool) return [];
    return [{ slot, bytes: BigInt(Math.round(after * GIB)) }];
  });
}

/**
 * Grows disks of a running guest in place: QEMU resizes the image it has open (block_resize
 * through virDomainBlockResize) and the guest sees the new capacity at once. The image file
 * cannot be resized from outside while QEMU holds its lock, hence not storageVolResize here.
 */
export async function growDisksLive(client: LibvirtClient, dom: DomainRef, grown: { slot: string; bytes: bigint }[], ctx: OperationContext): Promise<void> {
  for (const { slot, bytes } of grown) {
    ctx.progress(`growing disk ${slot} to ${Number(bytes) / GIB} GiB (live)`);
    await client.call("domainBlockResize", { dom, disk: slotToTargetDev(slot), size: bytes, flags: BLOCK_RESIZE_BYTES });
  }
}

/**
 * Grows the volumes of a guest that is not running (stopped, or between the stop and start of
 * a restart) through the storage pool. Never shrinks: a smaller size is planned as a replace.
 */
export async function growDisksOffline(client: LibvirtClient, spec: VirtualMachineSpec, grown: { slot: string; bytes: bigint }[], ctx: OperationContext): Promise<void> {
  for (const { slot, bytes } of grown) {
    const poolName = spec.disks[slot].pool!;
    const pool = await orAbsent(client.call("storagePoolLookupByName", { name: poolName }));
    const found = pool && (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: blankDiskName(spec.name, slot) })));
    if (!found) throw new Error(`disks.${slot}.sizeGiB: the disk's volume ${blankDiskName(spec.name, slot)} is not in pool "${poolName}"; nothing was grown`);
    const { capacity } = await client.call("storageVolGetInfo", { vol: found.vol });
    if (capacity >= bytes) continue;
    ctx.progress(`growing disk ${slot} to ${Number(bytes) / GIB} GiB`);
    await client.call("storageVolResize", { vol: found.vol, capacity: bytes, flags: 0 });
  }
}
