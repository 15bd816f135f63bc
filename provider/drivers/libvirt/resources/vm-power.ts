import type { OperationContext } from "../../../core/driver";
import type { DomainRef, LibvirtClient } from "../rpc";
import { LibvirtError } from "../rpc";

/** virDomainState values we act on. */
export const DomainState = { running: 1, blocked: 2, paused: 3, shutdown: 4, shutoff: 5, crashed: 6, pmsuspended: 7 } as const;
const NAMES: Record<number, string> = { 0: "nostate", 1: "running", 2: "running", 3: "paused", 4: "shutting-down", 5: "stopped", 6: "crashed", 7: "suspended" };

export function stateName(state: number): string {
  return NAMES[state] ?? `state-${state}`;
}

export async function domainState(client: LibvirtClient, dom: DomainRef): Promise<number> {
  return (await client.call("domainGetState", { dom, flags: 0 })).state;
}

function isActive(state: number): boolean {
  return state !== DomainState.shutoff && state !== 0;
}

/**
 * Stops a guest the way an operator would: ask it to shut down (ACPI), wait up to the
 * deadline with progress, then pull the plug. A guest that ignores ACPI still stops in bounded time.
 */
export async function stopGracefully(client: LibvirtClient, dom: DomainRef, timeoutSeconds: number, ctx: OperationContext): Promise<"graceful" | "forced" | "already-stopped"> {
  if (!isActive(await domainState(client, dom))) return "already-stopped";
  if (timeoutSeconds > 0) {
    ctx.progress(`asking the guest to shut down (up to ${timeoutSeconds}s)`);
    try {
      await client.call("domainShutdownFlags", { dom, flags: 0 });
    } catch (error) {
      if (!(error instanceof LibvirtError && error.isOperationInvalid())) throw error;
    }
    const until = Math.min(ctx.deadline, Date.now() + timeoutSeconds * 1000);
    let lastReport = Date.now();
    while (Date.now() < until) {
      if (!isActive(await domainState(client, dom))) return "graceful";
      if (Date.now() - lastReport >= 5000) {
        lastReport = Date.now();
        ctx.progress(`waiting for the guest to shut down (${Math.ceil((until - Date.now()) / 1000)}s left)`);
      }
      await sleep(250);
    }
    ctx.progress("the guest did not shut down in time; powering it off");
  }
  try {
    await client.call("domainDestroyFlags", { dom, flags: 0 });
  } catch (error) {
    if (!(error instanceof LibvirtError && error.isOperationInvalid())) throw error;
  }
  return "forced";
}

/** Brings a domain to the requested power state. */
export async function applyPowerState(
  client: LibvirtClient,
  dom: DomainRef,
  wanted: "running" | "stopped" | "paused",
  shutdownTimeoutSeconds: number,
  ctx: OperationContext,
): Promise<void> {
  const state = await domainState(client, dom);
  if (wanted === "stopped") {
    await stopGracefully(client, dom, shutdownTimeoutSeconds, ctx);
    return;
  }
  if (!isActive(state)) {
    ctx.progress("starting");
    await client.call("domainCreate", { dom });
  } else if (state === DomainState.paused && wanted === "running") {
    await client.call("domainResume", { dom });
  }
  if (wanted === "paused" && (await domainState(client, dom)) !== DomainState.paused) {
    await client.call("domainSuspend", { dom });
  }
}

/**
 * Waits until one of the VM's NICs holds a DHCP lease on its libvirt network, with progress.
 * The guest agent is not required: the network's own DHCP server knows the address.
 */
export async function waitForIp(client: LibvirtClient, nics: { network: string; mac: string }[], timeoutSeconds: number, ctx: OperationContext): Promise<string> {
  const until = Math.min(ctx.deadline, Date.now() + timeoutSeconds * 1000);
  const started = Date.now();
  let lastReport = started;
  ctx.progress(`waiting for an IP address (up to ${timeoutSeconds}s)`);
  while (Date.now() < until) {
    for (const nic of nics) {
      const net = await client.call("networkLookupByName", { name: nic.network }).catch(() => undefined);
      if (!net) continue;
      const { leases } = await client.call("networkGetDhcpLeases", { net: net.net, mac: nic.mac, need_results: 1, flags: 0 });
      const lease = leases.find((l) => l.mac?.toLowerCase() === nic.mac.toLowerCase() && l.type === 0);
      if (lease) {
        ctx.progress(`got ${lease.ipaddr} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
        return lease.ipaddr;
      }
    }
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      ctx.progress(`still waiting for an IP address (${Math.round((Date.now() - started) / 1000)}s)`);
    }
    await sleep(1000);
  }
  throw new Error(
    `no DHCP lease for ${nics.map((n) => n.mac).join(", ")} within ${timeoutSeconds}s; the VM is running — check its console (virsh console) or raise waitForIp.timeoutSeconds`,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
