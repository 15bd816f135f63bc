import type { Progress } from "../../core/driver";
import type { DomainRef, LibvirtClient, TypedParam } from "./rpc";
import { paramsToRecord } from "./typed-params";

/** virDomainMigrateFlags we use. */
const MIGRATE = { live: 1, peerToPeer: 2, persistDest: 8, undefineSource: 16, autoConverge: 8192 } as const;
const JOB_STATS_COMPLETED = 1;

export interface MigrationOptions {
  /** libvirt URI the source daemon opens to reach the destination daemon. */
  destinationUri: string;
  /** Address for the migration data stream, e.g. tcp://10.0.0.2 (optional). */
  migrateUri?: string;
  maxDowntimeMs?: number;
  bandwidthMiBs?: number;
  deadline: number;
  progress: Progress;
}

export interface MigrationResult {
  totalMs: number;
  downtimeMs: number;
  bytesMoved: number;
}

/**
 * Live peer-to-peer migration: the source libvirtd connects to the destination itself, so the
 * machine running Pulumi need not reach the destination's migration port. The definition moves
 * with the VM (persist on the destination, undefine on the source).
 */
export async function migrateLive(source: LibvirtClient, dom: DomainRef, opts: MigrationOptions): Promise<MigrationResult> {
  const params: TypedParam[] = [];
  if (opts.migrateUri) params.push({ field: "migrate_uri", type: "string", value: opts.migrateUri });
  if (opts.bandwidthMiBs) params.push({ field: "bandwidth", type: "ullong", value: BigInt(opts.bandwidthMiBs) });
  const flags = MIGRATE.live | MIGRATE.peerToPeer | MIGRATE.persistDest | MIGRATE.undefineSource | MIGRATE.autoConverge;
  const started = Date.now();
  const remainingMs = Math.max(1000, opts.deadline - started);
  opts.progress(`live migration to ${opts.destinationUri} started`);
  const migrating = source.call(
    "domainMigratePerform3Params",
    { dom, dconnuri: opts.destinationUri, params, cookie_in: Buffer.alloc(0), flags },
    { timeoutMs: remainingMs },
  );
  const watcher = watchJob(source, dom, opts, migrating);
  await migrating;
  await watcher;
  const totalMs = Date.now() - started;
  const stats = await source
    .call("domainGetJobStats", { dom, flags: JOB_STATS_COMPLETED })
    .then(({ params: p }) => paramsToRecord(p))
    .catch(() => ({}) as Record<string, number | string | boolean>);
  const num = (k: string) => (typeof stats[k] === "number" ? (stats[k] as number) : 0);
  const result = { totalMs: num("time_elapsed") || totalMs, downtimeMs: num("downtime"), bytesMoved: num("data_processed") || num("memory_processed") };
  opts.progress(`live migration done in ${result.totalMs} ms, downtime ${result.downtimeMs} ms, ${(result.bytesMoved / 2 ** 20).toFixed(1)} MiB moved`);
  return result;
}

/** Applies the downtime ceiling once the job exists, and reports progress every few seconds. */
async function watchJob(client: LibvirtClient, dom: DomainRef, opts: MigrationOptions, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  let downtimeSet = opts.maxDowntimeMs === undefined;
  let lastReport = Date.now();
  while (!finished) {
    await new Promise((r) => setTimeout(r, 200));
    if (finished) break;
    if (!downtimeSet) {
      downtimeSet = await client
        .call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(opts.maxDowntimeMs!), flags: 0 })
        .then(() => true, () => false);
    }
    if (Date.now() - lastReport > 3000) {
      lastReport = Date.now();
      const stats = await client.call("domainGetJobStats", { dom, flags: 0 }).then(({ params }) => paramsToRecord(params), () => undefined);
      if (stats) {
        const left = Number(stats.memory_remaining ?? 0) / 2 ** 20;
        opts.progress(`migrating: ${left.toFixed(0)} MiB of memory left to copy`);
      }
    }
  }
}
