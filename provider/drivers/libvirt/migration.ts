import type { Progress } from "../../core/driver";
import { LibvirtError, LibvirtTimeoutError, type DomainRef, type LibvirtClient, type TypedParam } from "./rpc";
import { paramsToRecord } from "./typed-params";

/** virDomainMigrateFlags bits (libvirt ABI). */
export const MIGRATE = { live: 1, peerToPeer: 2, persistDest: 8, undefineSource: 16, autoConverge: 8192 } as const;
/** virDomainGetJobStatsFlags: the last finished job instead of the running one. */
const JOB_STATS_COMPLETED = 1;
/** virDomainJobType of a finished job. */
const JOB_COMPLETED = 3;

export interface MigrationOptions {
  /** libvirt URI the *source daemon* opens to reach the destination daemon (peer-to-peer). */
  destinationUri: string;
  /** Address for the migration data stream, e.g. tcp://10.0.0.2 (VIR_MIGRATE_PARAM_URI). */
  migrateUri?: string;
  /**
   * Our own connection to the destination. The finished job's figures live there: the source
   * forgets the domain (and its job record) as soon as the definition moves.
   */
  destination?: LibvirtClient;
  /** Ceiling for the pause at switchover; QEMU's default is 300 ms. */
  maxDowntimeMs?: number;
  bandwidthMiBs?: number;
  deadline: number;
  progress: Progress;
}

export interface MigrationResult {
  /** Wall time of the whole job, as libvirt measured it. */
  totalMs: number;
  /** How long the guest was paused at switchover, as QEMU measured it. */
  downtimeMs: number;
  /** Bytes sent over the migration stream. */
  bytesMoved: number;
}

/**
 * Live peer-to-peer migration: the source libvirtd connects to the destination itself, so the
 * machine running Pulumi need not reach the destination's migration port. The definition moves
 * with the VM (persisted on the destination, undefined on the source). Returns once the guest
 * runs on the destination.
 */
export async function migrateLive(source: LibvirtClient, dom: DomainRef, opts: MigrationOptions): Promise<MigrationResult> {
  const params: TypedParam[] = [];
  if (opts.migrateUri) params.push({ field: "migrate_uri", type: "string", value: opts.migrateUri });
  if (opts.bandwidthMiBs) params.push({ field: "bandwidth", type: "ullong", value: BigInt(opts.bandwidthMiBs) });
  if (opts.maxDowntimeMs !== undefined) {
    // Set before the job starts: a small guest can finish migrating before a setting made
    // during the job would land. libvirt leaves downtime-limit alone when it starts the job.
    await source.call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(opts.maxDowntimeMs), flags: 0 }).then(
      () => undefined,
      (error: unknown) => opts.progress(`cannot cap the downtime (${errorText(error)}); QEMU's default applies`),
    );
  }
  const flags = MIGRATE.live | MIGRATE.peerToPeer | MIGRATE.persistDest | MIGRATE.undefineSource | MIGRATE.autoConverge;
  const started = Date.now();
  const remainingMs = opts.deadline - started;
  if (remainingMs < 1000) throw new Error(`no time left for the migration (deadline in ${remainingMs} ms)`);
  opts.progress(`live migration to ${opts.destinationUri} started`);
  const migrating = source.call(
    "domainMigratePerform3Params",
    { dom, dconnuri: opts.destinationUri, params, cookie_in: Buffer.alloc(0), flags },
    { timeoutMs: remainingMs },
  );
  const reporter = reportProgress(source, dom, opts.progress, migrating);
  try {
    await migrating;
  } catch (error) {
    if (error instanceof LibvirtTimeoutError) {
      // Our call gave up but the job still runs in libvirtd: stop it so the guest stays on the source.
      await abortJob(source, dom).catch(() => undefined);
      throw new Error(`live migration to ${opts.destinationUri} did not finish by the deadline and was aborted; the VM still runs on the source`);
    }
    throw new Error(`live migration to ${opts.destinationUri} failed; the VM still runs on the source: ${errorText(error)}`, { cause: error });
  } finally {
    await reporter;
  }
  const wallMs = Date.now() - started;
  const stats = opts.destination ? await completedJobStats(opts.destination, dom.uuid) : undefined;
  const num = (k: string) => (typeof stats?.[k] === "number" ? (stats[k] as number) : undefined);
  const result: MigrationResult = {
    totalMs: num("time_elapsed") ?? wallMs,
    downtimeMs: num("downtime") ?? 0,
    bytesMoved: num("data_processed") ?? num("memory_processed") ?? 0,
  };
  opts.progress(`live migration done in ${result.totalMs} ms, downtime ${result.downtimeMs} ms, ${(result.bytesMoved / 2 ** 20).toFixed(1)} MiB moved`);
  return result;
}

/** The finished incoming migration's figures as the destination recorded them, or undefined. */
export async function completedJobStats(destination: LibvirtClient, uuid: string): Promise<Record<string, number | string | boolean> | undefined> {
  try {
    const { dom } = await destination.call("domainLookupByUuid", { uuid });
    const job = await destination.call("domainGetJobStats", { dom, flags: JOB_STATS_COMPLETED });
    return job.type === JOB_COMPLETED ? paramsToRecord(job.params) : undefined;
  } catch (error) {
    if (error instanceof LibvirtError) return undefined;
    throw error;
  }
}

/**
 * Cancels the outgoing migration in QEMU; libvirt sees the job fail and resumes the guest on the
 * source. Through the monitor because the client's procedure table has no virDomainAbortJob yet.
 */
async function abortJob(client: LibvirtClient, dom: DomainRef): Promise<void> {
  await client.qemuMonitorCommand(dom, { execute: "migrate_cancel" });
}

/** Reports how much memory is left to copy every few seconds until the job settles. */
async function reportProgress(client: LibvirtClient, dom: DomainRef, progress: Progress, done: Promise<unknown>): Promise<void> {
  let finished = false;
  const settled = done.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) {
    await Promise.race([settled, new Promise((r) => setTimeout(r, 3000))]);
    if (finished) break;
    const stats = await client.call("domainGetJobStats", { dom, flags: 0 }).then(({ params }) => paramsToRecord(params), () => undefined);
    if (typeof stats?.memory_remaining === "number") {
      progress(`migrating: ${(stats.memory_remaining / 2 ** 20).toFixed(0)} MiB of memory left to copy`);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
