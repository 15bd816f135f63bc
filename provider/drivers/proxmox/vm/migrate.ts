// Moving a VM: to another node of the cluster (`migrate`, online when it runs, with its local
// disks when PVE's own precheck lists some), and a disk to another storage (`move_disk`).
import type { OperationContext } from "../../../core/driver";
import type { PveClient } from "../api/client";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";

interface Precheck {
  local_disks?: { volid: string; cdrom?: number; is_unused?: number }[];
  local_resources?: string[];
}

/** The node the cluster lists the VM on, or undefined when it lists none. */
export async function nodeOf(client: PveClient, vmid: number): Promise<string | undefined> {
  const rows = await client.get<{ vmid: number; node: string; type: string }[]>("/cluster/resources", { type: "vm" });
  return rows.find((r) => r.type === "qemu" && Number(r.vmid) === vmid)?.node;
}

/**
 * Migrates VM `vmid` from `node` to `target` and waits for PVE's task. A running VM (as its status
 * said) moves online;
 * disks on storage the target cannot reach are copied along (`with-local-disks`) when PVE's
 * precheck (`GET …/migrate`) lists any.
 */
export async function migrateVm(client: PveClient, node: string, vmid: number, target: string, running: boolean, ctx: OperationContext): Promise<void> {
  const path = `/nodes/${node}/qemu/${vmid}/migrate`;
  const check = await client.get<Precheck>(path, { target });
  const local = (check.local_disks ?? []).filter((d) => !Number(d.cdrom) && !Number(d.is_unused));
  const params = { target, ...(running ? { online: 1 } : {}), ...(local.length ? { "with-local-disks": 1 } : {}) };
  ctx.progress(`migrating VM ${vmid} from node ${node} to ${target}${running ? " online" : ""}${local.length ? ` with ${local.length} local disk(s)` : ""}`);
  await retryWhileLocked(`migration of VM ${vmid}`, async () => waitForTask(client, await client.post<string>(path, params), ctx), ctx.deadline, ctx.progress);
}

/** Moves a disk to another storage with its content; the old volume is removed once the copy is done. */
export async function moveDisk(client: PveClient, node: string, vmid: number, disk: string, storage: string, ctx: OperationContext): Promise<void> {
  ctx.progress(`moving disk ${disk} of VM ${vmid} to storage ${storage}`);
  await retryWhileLocked(
    `move of disk ${disk} of VM ${vmid}`,
    async () => waitForTask(client, await client.post<string>(`/nodes/${node}/qemu/${vmid}/move_disk`, { disk, storage, delete: 1 }), ctx),
    ctx.deadline,
    ctx.progress,
  );
}
