import type { Progress } from "../../core/driver";
import { LibvirtError, LibvirtTimeoutError, type DomainRef, type LibvirtClient, type TypedParam } from "./rpc";
import { paramsToRecord } from "./typed-params";

/** virDomainMigrateFlags bits (libvirt ABI). */
export const MIGRATE = { live: 1, peerToPeer: 2, persistDest: 8, undefineSource: 16, autoConverge: 8192 } as const;
/**
 * virDomainGetJobStatsFlags: the last finished job instead of the running one, and keep it
 * (reading it otherwise clears it, and an operator may still want `virsh domjobinfo --completed`).
 */
const JOB_STATS_COMPLETED_KEEP = 1 | 2;
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
  /**
   * Ceiling for the pause at switchover (QEMU's default is 300 ms). The job starts with a
   * tighter cap and relaxes it towards this ceiling only while the copy fails to converge.
   */
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
  const ramp = opts.maxDowntimeMs === undefined ? undefined : downtimeRamp(opts.maxDowntimeMs);
  if (ramp) {
    // Set before the job starts: a small guest can finish migrating before a setting made
    // during the job would land. libvirt leaves downtime-limit alone when it starts the job.
    await source.call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(ramp[0]), flags: 0 }).then(
      () => undefined,
      (error: unknown) => opts.progress(`cannot cap the downtime (${errorText(error)}); QEMU's default applies`),
    );
  }
  const flags = MIGRATE.live | MIGRATE.peerToPeer | MIGRATE.persistDest | MIGRATE.undefineSource | MIGRATE.autoConverge;
  const started = Date.now();
  const remainingMs = opts.deadline - started;
  if (remainingMs < 1000) throw new Error(`no time left for the migration (deadline in ${remainingMs} ms)`);
  opts.progress(`live migration to ${opts.destinationUri} started`);
  const migrating = source.call("domainMigratePerform3Params", { dom, dconnuri: opts.destinationUri, params, cookie_in: Buffer.alloc(0), flags }, { timeoutMs: remainingMs });
  const reporter = watchJob(source, dom, opts.progress, migrating, ramp?.slice(1) ?? []);
  try {
    await migrating;
  } catch (error) {
    if (error instanceof LibvirtTimeoutError) {
      // Our call gave up but the job still runs in libvirtd: stop it so the guest stays on the source.
      const aborted = await abortJob(source, dom).then(
        () => true,
        () => false,
      );
      throw new Error(
        aborted
          ? `live migration to ${opts.destinationUri} did not finish by the deadline and was aborted; the VM still runs on the source`
          : `live migration to ${opts.destinationUri} did not finish by the deadline and could not be aborted; it may still complete (the next update finds the VM wherever it ends up)`,
        { cause: error },
      );
    }
    if (error instanceof LibvirtError) {
      // libvirtd itself reports the job failed: its rollback resumes the guest on the source.
      throw new Error(`live migration to ${opts.destinationUri} failed; the VM still runs on the source: ${error.message}`, { cause: error });
    }
    // The connection to the source broke: peer-to-peer, the job runs on in libvirtd without us.
    throw new Error(
      `lost track of the live migration to ${opts.destinationUri} (${errorText(error)}); the VM may end up on either host, and the next update finds it where it is`,
      { cause: error },
    );
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
  // The call returns only after libvirt's finish/confirm phases (the source QEMU is stopped), so
  // its wall time exceeds the job's own; both are shown to tell the two apart.
  opts.progress(
    `live migration done in ${result.totalMs} ms (call returned after ${wallMs} ms), downtime ${result.downtimeMs} ms, ${(result.bytesMoved / 2 ** 20).toFixed(1)} MiB moved`,
  );
  return result;
}

/** The finished incoming migration's figures as the destination recorded them, or undefined. */
export async function completedJobStats(destination: LibvirtClient, uuid: string): Promise<Record<string, number | string | boolean> | undefined> {
  try {
    const { dom } = await destination.call("domainLookupByUuid", { uuid });
    const job = await destination.call("domainGetJobStats", { dom, flags: JOB_STATS_COMPLETED_KEEP });
    return job.type === JOB_COMPLETED ? paramsToRecord(job.params) : undefined;
  } catch (error) {
    if (error instanceof LibvirtError) return undefined;
    throw error;
  }
}

/** Cancels the outgoing migration job; libvirt resumes the guest on the source. */
async function abortJob(client: LibvirtClient, dom: DomainRef): Promise<void> {
  await client.call("domainAbortJob", { dom });
}

/**
 * Downtime caps to try in turn. QEMU switches over as soon as it estimates the rest fits in
 * the cap, so a generous cap pauses even an idle guest for about that long (measured here: a
 * 10 GiB idle TCG guest paused ~250 ms under a 200 ms cap, ~40 ms under a 50 ms cap). Starting
 * tight and doubling only while the copy does not converge keeps pauses short for quiet guests
 * and still lets busy ones finish.
 */
export function downtimeRamp(ceilingMs: number): number[] {
  const steps: number[] = [];
  for (let cap = Math.min(INITIAL_DOWNTIME_MS, ceilingMs); cap < ceilingMs; cap *= 2) steps.push(cap);
  return [...steps, ceilingMs];
}
const INITIAL_DOWNTIME_MS = 50;
/** How long one cap gets to converge before the next, looser one. */
const RAMP_STEP_MS = 4000;
const REPORT_EVERY_MS = 3000;

/**
 * Until the job settles: relaxes the downtime cap along `laterCaps`, one step per RAMP_STEP_MS,
 * and reports how much memory is left to copy.
 */
async function watchJob(client: LibvirtClient, dom: DomainRef, progress: Progress, done: Promise<unknown>, laterCaps: number[]): Promise<void> {
  let finished = false;
  const settled = done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const started = Date.now();
  let lastReport = started;
  const caps = [...laterCaps];
  while (!finished) {
    await Promise.race([settled, new Promise((r) => setTimeout(r, 500))]);
    if (finished) break;
    const now = Date.now();
    if (caps.length > 0 && now - started >= RAMP_STEP_MS * (laterCaps.length - caps.length + 1)) {
      const cap = caps.shift()!;
      await client.call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(cap), flags: 0 }).then(
        () => progress(`not converged yet: downtime cap raised to ${cap} ms`),
        // The job may have just finished; anything else leaves the previous cap in force.
        () => undefined,
      );
    }
    if (now - lastReport >= REPORT_EVERY_MS) {
      lastReport = now;
      const stats = await client.call("domainGetJobStats", { dom, flags: 0 }).then(
        ({ params }) => paramsToRecord(params),
        () => undefined,
      );
      if (typeof stats?.memory_remaining === "number") {
        progress(`migrating: ${(stats.memory_remaining / 2 ** 20).toFixed(0)} MiB of memory left to copy`);
      }
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
