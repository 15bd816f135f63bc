import type { OperationContext } from "../../../core/driver";
import type { PveClient } from "./client";
import { PveApiError } from "./errors";
import { retryWhileLocked } from "./retry";
import { waitForTask } from "./tasks";

/**
 * Destroys a qemu VM or LXC container (already stopped) with its disks, including disks PVE lists
 * as unused or unreferenced, so nothing NovaCron made stays on a storage. A lock held by another
 * operation is waited out within the deadline; a guest already gone counts as destroyed.
 */
export async function destroyGuest(client: PveClient, path: string, label: string, ctx: OperationContext): Promise<void> {
  await retryWhileLocked(
    `destroy of ${label}`,
    async () => {
      try {
        const upid = await client.delete<string>(path, { purge: 1, "destroy-unreferenced-disks": 1 });
        await waitForTask(client, upid, ctx);
      } catch (error) {
        if (error instanceof PveApiError && error.isMissingGuest) return;
        throw error;
      }
    },
    ctx.deadline,
    ctx.progress,
  );
  ctx.progress(`${label} destroyed`);
}
