import type { OperationContext } from "../../../core/driver";
import type { PveClient } from "../api/client";
import { PveApiError, PveTransportError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";

/** Attempts at a free VM id before a create gives up: each loss means another create took the id first. */
const ID_ATTEMPTS = 50;

/** A VM id the create call took, and its task; `unsure` when the answer was lost on the way back. */
export interface Claimed {
  vmid: number;
  upid?: string;
}

/**
 * The create call decides who gets an id: /cluster/nextid only proposes one, and a parallel create
 * may take it first ("already exists"), so the loser asks again. A lock held elsewhere (a clone's
 * template in use) is retried with backoff. When the connection breaks after the call was sent,
 * PVE may have made the VM anyway: the id is then looked up by `name`, and kept when the VM there
 * is the one asked for, so the caller records it instead of leaving it unrecorded.
 */
export async function claimVmId(
  client: PveClient,
  node: string,
  name: string,
  send: (vmid: number) => Promise<string>,
  ctx: OperationContext,
  refused: (error: unknown) => unknown = (e) => e,
): Promise<Claimed> {
  for (let attempt = 1; ; attempt++) {
    // PVE answers the id as a string.
    const vmid = Number(await client.get<string | number>("/cluster/nextid"));
    try {
      const upid = await retryWhileLocked(`create of VM ${vmid}`, () => send(vmid), ctx.deadline, ctx.progress);
      return { vmid, upid };
    } catch (error) {
      if (error instanceof PveApiError && /already exists/.test(error.reason) && attempt < ID_ATTEMPTS && Date.now() < ctx.deadline) {
        if (attempt === 1 || attempt % 10 === 0) ctx.progress(`VM id ${vmid} was taken by another create; asking for another`);
        continue;
      }
      if (error instanceof PveTransportError && (await madeAnyway(client, node, vmid, name))) {
        ctx.progress(`the connection broke while creating VM ${vmid}, but Proxmox VE made it: keeping id ${vmid}`);
        return { vmid };
      }
      throw refused(error);
    }
  }
}

/** Whether the VM `vmid` on `node` exists under `name` (a lookup failing again counts as no). */
async function madeAnyway(client: PveClient, node: string, vmid: number, name: string): Promise<boolean> {
  try {
    const config = await client.get<{ name?: string }>(`/nodes/${node}/qemu/${vmid}/config`);
    return config.name === name;
  } catch {
    return false;
  }
}
