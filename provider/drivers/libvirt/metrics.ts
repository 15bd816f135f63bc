import type { VmMetrics } from "../../core/driver";

export type { VmMetrics };
import type { DomainRef } from "./rpc";
import type { LibvirtSession } from "./session";
import { paramsToRecord } from "./typed-params";

/** Which groups all-domain stats returns (virDomainStatsTypes bits). */
const STATS = { state: 1, cpuTotal: 2, balloon: 4, vcpu: 8, interface: 16, block: 32 } as const;
/**
 * VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT: a domain busy in a job (a migration, a snapshot)
 * reports what it can at once instead of holding up every other VM's figures until it is free.
 */
const NOWAIT = 1 << 29;

/**
 * Per-VM counters for a collector to poll, from one all-domain stats call (one round trip for
 * every VM on the host, not one per VM). `only` narrows it to some domains. Counters are
 * cumulative since the guest started: a collector turns them into rates between two polls.
 */
export async function collectMetrics(session: LibvirtSession, only: DomainRef[] = []): Promise<VmMetrics[]> {
  const client = await session.get();
  const stats = Object.values(STATS).reduce((a, b) => a | b, 0);
  const { retStats } = await client.call("connectGetAllDomainStats", { doms: only, stats, flags: NOWAIT });
  return retStats.map(({ dom, params }) => {
    const p = paramsToRecord(params);
    const n = (key: string) => (typeof p[key] === "number" ? (p[key] as number) : 0);
    const opt = (key: string) => (typeof p[key] === "number" ? (p[key] as number) : undefined);
    return {
      name: dom.name,
      uuid: dom.uuid,
      state: n("state.state"),
      cpuTimeNs: n("cpu.time"),
      cpuUserNs: opt("cpu.user"),
      cpuSystemNs: opt("cpu.system"),
      // Ids run up to the maximum; an offline (hot-pluggable) vCPU has no entry, so ids can skip.
      vcpus: Array.from({ length: n("vcpu.maximum") }, (_, id) => id)
        .filter((id) => opt(`vcpu.${id}.state`) !== undefined)
        .map((id) => ({ id, state: n(`vcpu.${id}.state`), timeNs: n(`vcpu.${id}.time`) })),
      balloon: {
        currentKiB: opt("balloon.current"),
        maximumKiB: opt("balloon.maximum"),
        availableKiB: opt("balloon.available"),
        unusedKiB: opt("balloon.unused"),
        usableKiB: opt("balloon.usable"),
        rssKiB: opt("balloon.rss"),
        lastUpdate: opt("balloon.last-update"),
      },
      disks: Array.from({ length: n("block.count") }, (_, i) => ({
        name: String(p[`block.${i}.name`] ?? i),
        path: typeof p[`block.${i}.path`] === "string" ? String(p[`block.${i}.path`]) : undefined,
        readBytes: n(`block.${i}.rd.bytes`),
        writeBytes: n(`block.${i}.wr.bytes`),
        readRequests: n(`block.${i}.rd.reqs`),
        writeRequests: n(`block.${i}.wr.reqs`),
        capacityBytes: opt(`block.${i}.capacity`),
        allocationBytes: opt(`block.${i}.allocation`),
      })),
      nics: Array.from({ length: n("net.count") }, (_, i) => ({
        name: String(p[`net.${i}.name`] ?? i),
        rxBytes: n(`net.${i}.rx.bytes`),
        txBytes: n(`net.${i}.tx.bytes`),
        rxPackets: n(`net.${i}.rx.pkts`),
        txPackets: n(`net.${i}.tx.pkts`),
        rxDrops: n(`net.${i}.rx.drop`),
        txDrops: n(`net.${i}.tx.drop`),
      })),
    };
  });
}
