import type { LibvirtSession } from "./session";
import { paramsToRecord } from "./typed-params";

/** Which groups all-domain stats returns (virDomainStatsTypes bits). */
const STATS = { state: 1, cpuTotal: 2, balloon: 4, vcpu: 8, interface: 16, block: 32 } as const;

export interface VmMetrics {
  name: string;
  uuid: string;
  /** virDomainState number: 1 running, 3 paused, 5 shut off, … */
  state: number;
  cpuTimeNs: number;
  vcpus: { id: number; state: number; timeNs: number }[];
  balloon: { currentKiB?: number; maximumKiB?: number; availableKiB?: number; unusedKiB?: number; rssKiB?: number };
  disks: { name: string; readBytes: number; writeBytes: number; readRequests: number; writeRequests: number }[];
  nics: { name: string; rxBytes: number; txBytes: number; rxPackets: number; txPackets: number; rxDrops: number; txDrops: number }[];
}

/**
 * Per-VM counters for a collector to poll, from one all-domain stats call (one round trip for
 * every VM on the host, not one per VM).
 */
export async function collectMetrics(session: LibvirtSession): Promise<VmMetrics[]> {
  const client = await session.get();
  const flags = Object.values(STATS).reduce((a, b) => a | b, 0);
  const { retStats } = await client.call("connectGetAllDomainStats", { doms: [], stats: flags, flags: 0 });
  return retStats.map(({ dom, params }) => {
    const p = paramsToRecord(params);
    const n = (key: string) => (typeof p[key] === "number" ? (p[key] as number) : 0);
    const opt = (key: string) => (typeof p[key] === "number" ? (p[key] as number) : undefined);
    return {
      name: dom.name,
      uuid: dom.uuid,
      state: n("state.state"),
      cpuTimeNs: n("cpu.time"),
      vcpus: Array.from({ length: n("vcpu.current") }, (_, id) => ({ id, state: n(`vcpu.${id}.state`), timeNs: n(`vcpu.${id}.time`) })),
      balloon: { currentKiB: opt("balloon.current"), maximumKiB: opt("balloon.maximum"), availableKiB: opt("balloon.available"), unusedKiB: opt("balloon.unused"), rssKiB: opt("balloon.rss") },
      disks: Array.from({ length: n("block.count") }, (_, i) => ({
        name: String(p[`block.${i}.name`] ?? i),
        readBytes: n(`block.${i}.rd.bytes`),
        writeBytes: n(`block.${i}.wr.bytes`),
        readRequests: n(`block.${i}.rd.reqs`),
        writeRequests: n(`block.${i}.wr.reqs`),
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
