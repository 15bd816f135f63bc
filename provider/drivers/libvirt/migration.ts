import type { Progress } from "../../core/driver";
import { LibvirtError, LibvirtTimeoutError, type DomainJobCompletedEvent, type DomainRef, type LibvirtClient, type TypedParam } from "./rpc";
import { paramsToRecord } from "./typed-params";

/** virDomainMigrateFlags bits (libvirt ABI). */
export const MIGRATE = { live: 1, peerToPeer: 2, persistDest: 8, undefineSource: 16, autoConverge: 8192, postCopy: 32768 } as const;
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
  /**
   * May switch to post-copy (updatePolicy.allowPostCopy): once a pass from the 2nd on ends
   * unconverged (pre-copy could then finish only by throttling the guest), or 3/4 of the time is gone.
   */
  allowPostCopy?: boolean;
  deadline: number;
  progress: Progress;
}

export interface MigrationResult {
  /** What the driver chose for this job and why, in the order it chose it. */
  choices: string[];
  /** Pre-copy passes over memory QEMU made. */
  iterations?: number;
  /** The highest guest dirty rate QEMU measured during the job, MiB/s (absent when it measured none). */
  dirtyRateMiBs?: number;
  /** How far auto-converge slowed the vCPUs at the end, percent (0: never throttled). */
  throttlePct?: number;
  /** The pass after which the job switched to post-copy (absent: it finished in pre-copy). */
  postCopyAfterPass?: number;
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
  const choices: string[] = [];
  if (opts.migrateUri) params.push({ field: "migrate_uri", type: "string", value: opts.migrateUri });
  if (opts.bandwidthMiBs) {
    params.push({ field: "bandwidth", type: "ullong", value: BigInt(opts.bandwidthMiBs) });
    choices.push(`bandwidth: capped at ${opts.bandwidthMiBs} MiB/s (host entry)`);
  } else {
    choices.push("bandwidth: unlimited, so the copy outruns the guest's dirtying for as long as the link allows");
  }
  // Auto-converge slows the vCPUs only once a pass fails to shrink what is left; starting firmer
  // than QEMU's 20 %/+10 % makes a busy guest converge in a few passes instead of many.
  params.push({ field: "auto_converge.initial", type: "int", value: AUTO_CONVERGE.initial });
  params.push({ field: "auto_converge.increment", type: "int", value: AUTO_CONVERGE.increment });
  choices.push(`auto-converge: on (vCPU throttle from ${AUTO_CONVERGE.initial} %, +${AUTO_CONVERGE.increment} % per pass that does not converge)`);
  // XBZRLE and multifd compression trade source CPU for link bandwidth. The link between
  // libvirt hosts is rarely the bound on a busy guest; the source's CPU (shared with the guest's
  // own vCPUs, under TCG entirely) is, so compressing would slow the copy it is meant to speed up.
  choices.push("compression: none (XBZRLE/multifd cost source CPU the guest's vCPUs need; the link is not the bound)");
  choices.push(
    opts.allowPostCopy
      ? `post-copy: allowed (updatePolicy.allowPostCopy): switches when a pass from the ${ordinal(RAMP_FROM_PASS)} on ends without converging (the guest outpaces the copy; ` +
          `post-copy then pauses it for milliseconds and runs it at full speed on arrival, where pre-copy would throttle it), or once ${POSTCOPY_AT_SHARE * 100} % of the time allowed has passed`
      : "post-copy: not used (updatePolicy.allowPostCopy is false: the guest is never switched over before its memory has arrived)",
  );
  const ramp = opts.maxDowntimeMs === undefined ? undefined : downtimeRamp(opts.maxDowntimeMs);
  if (ramp) {
    choices.push(`downtime cap: ${ramp.join(" → ")} ms, one step per pass, from the ${ordinal(RAMP_FROM_PASS)} on, that ends without converging`);
    // Set before the job starts: a small guest can finish migrating before a setting made
    // during the job would land. libvirt leaves downtime-limit alone when it starts the job.
    await source.call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(ramp[0]), flags: 0 }).then(
      () => undefined,
      (error: unknown) => opts.progress(`cannot cap the downtime (${errorText(error)}); QEMU's default applies`),
    );
  }
  const flags = MIGRATE.live | MIGRATE.peerToPeer | MIGRATE.persistDest | MIGRATE.undefineSource | MIGRATE.autoConverge | (opts.allowPostCopy ? MIGRATE.postCopy : 0);
  const started = Date.now();
  const remainingMs = opts.deadline - started;
  if (remainingMs < 1000) throw new Error(`no time left for the migration (deadline in ${remainingMs} ms)`);
  const completion = await listenForCompletion(source, dom);
  opts.progress(`live migration to ${opts.destinationUri} started`);
  const migrating = source.call("domainMigratePerform3Params", { dom, dconnuri: opts.destinationUri, params, cookie_in: Buffer.alloc(0), flags }, { timeoutMs: remainingMs });
  const seen: JobSeen = { dirtyRateMiBs: 0, capMs: ramp?.[0] };
  const postCopyAt = opts.allowPostCopy ? started + POSTCOPY_AT_SHARE * remainingMs : undefined;
  const reporter = watchJob(source, dom, opts.progress, migrating, ramp?.slice(1) ?? [], seen, postCopyAt);
  try {
    await migrating;
  } catch (error) {
    await completion.stop();
    if (seen.postCopyAfterPass !== undefined && error instanceof LibvirtTimeoutError) {
      // Post-copy cannot be aborted; it ends on its own once the last pages have arrived.
      throw new Error(
        `live migration to ${opts.destinationUri} was still in post-copy at the deadline (switched after pass ${seen.postCopyAfterPass}); it cannot be aborted and finishes on its own, and the next update or refresh finds the VM where it ends up`,
        { cause: error },
      );
    }
    if (seen.postCopyAfterPass !== undefined) {
      // In post-copy the guest's memory is split between the hosts: there is no going back.
      throw new Error(
        `live migration to ${opts.destinationUri} failed after switching to post-copy (after pass ${seen.postCopyAfterPass}): the guest runs on neither host until the migration resumes; ` +
          `run \`virsh migrate --live --p2p --postcopy --postcopy-resume ${opts.destinationUri}\` on the source host for this domain, then \`pulumi refresh\` (${errorText(error)})`,
        { cause: error },
      );
    }
    if (error instanceof LibvirtTimeoutError) {
      // Our call gave up but the job still runs in libvirtd: stop it so the guest stays on the source.
      const aborted = await abortJob(source, dom).then(
        () => true,
        () => false,
      );
      throw new Error(
        aborted
          ? `live migration to ${opts.destinationUri} did not finish by the deadline and was aborted (after ${Date.now() - started} ms and ${seen.passes ?? "?"} passes, last downtime cap ${seen.capMs ?? "QEMU's default"} ms, guest dirtying up to ${seen.dirtyRateMiBs.toFixed(0)} MiB/s, vCPU throttle ${seen.throttlePct ?? 0} %); the VM still runs on the source`
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
  // After post-copy neither host keeps the finished job's figures: only the event has them.
  const stats =
    (await completion.stats(seen.postCopyAfterPass === undefined ? 0 : COMPLETION_EVENT_WAIT_MS)) ??
    (opts.destination ? await completedJobStats(opts.destination, dom.uuid) : undefined);
  const num = (k: string) => (typeof stats?.[k] === "number" ? (stats[k] as number) : undefined);
  if (seen.capMs !== undefined && ramp && seen.capMs !== ramp[0]) choices.push(`downtime cap reached: ${seen.capMs} ms`);
  if (seen.postCopyAfterPass !== undefined) choices.push(`post-copy: switched after pass ${seen.postCopyAfterPass} (${seen.postCopyWhy})`);
  const result: MigrationResult = {
    choices,
    iterations: num("memory_iteration"),
    // QEMU reports a dirty rate only from the second pass on; a job done in one pass has none.
    dirtyRateMiBs: seen.dirtyRateMiBs > 0 ? Math.round(seen.dirtyRateMiBs) : undefined,
    throttlePct: seen.throttlePct ?? num("auto_converge_throttle") ?? 0,
    postCopyAfterPass: seen.postCopyAfterPass,
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

/**
 * Catches the source's job-completed event for `dom`. stats() waits up to `waitMs` for it,
 * then unsubscribes; undefined when it did not come (or the daemon refused the subscription).
 */
async function listenForCompletion(client: LibvirtClient, dom: DomainRef) {
  let record: Record<string, number | string | boolean> | undefined;
  let arrived = () => {};
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  const listener = (event: DomainJobCompletedEvent) => {
    if (event.domain.uuid !== dom.uuid) return;
    record = paramsToRecord(event.params);
    arrived();
  };
  client.on("domainJobCompleted", listener);
  const unsubscribe = await client.subscribeDomainJobCompleted(dom).catch(() => undefined);
  const stop = async () => {
    client.off("domainJobCompleted", listener);
    await unsubscribe?.().catch(() => undefined);
  };
  return {
    stop,
    async stats(waitMs: number) {
      if (!record && unsubscribe && waitMs > 0) await Promise.race([arrival, new Promise((r) => setTimeout(r, waitMs))]);
      await stop();
      return record;
    },
  };
}
const COMPLETION_EVENT_WAIT_MS = 5000;

/**
 * Cancels the outgoing migration job and waits until libvirtd has wound it down: the abort
 * returns before QEMU reports the cancellation, and a migration started in that window (the
 * next `up`, seen under load in CI) fails with "another migration job is already running".
 */
async function abortJob(client: LibvirtClient, dom: DomainRef): Promise<void> {
  await client.call("domainAbortJob", { dom });
  const until = Date.now() + ABORT_SETTLE_MS;
  while (Date.now() < until) {
    const job = await client.call("domainGetJobStats", { dom, flags: 0 }).catch(() => undefined);
    if (job === undefined || !RUNNING_JOB_TYPES.includes(Number(job.type))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
/** virDomainJobType BOUNDED and UNBOUNDED: a job still in progress. */
const RUNNING_JOB_TYPES = [1, 2];
const ABORT_SETTLE_MS = 30_000;

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

/**
 * The cap to ramp up to for a pause of about `targetMs` on a guest of `memoryMiB`. QEMU
 * switches over when its estimate (what is left ÷ recent bandwidth) fits the cap, and on a big
 * guest the real pause overshoots that estimate: measured on this TCG host, a busy 10 GiB guest
 * paused 478 ms under a 200 ms cap, a busy 1 GiB guest 129 ms. Above 4 GiB the cap shrinks in
 * proportion to the RAM (never below the first step), so the auto-converge throttle works a
 * few passes longer instead and the pause lands near the target.
 */
export function downtimeCapFor(targetMs: number, memoryMiB: number): number {
  const gib = memoryMiB / 1024;
  return gib <= 4 ? targetMs : Math.max(Math.min(INITIAL_DOWNTIME_MS, targetMs), Math.round((targetMs * 4) / gib));
}
const AUTO_CONVERGE = { initial: 30, increment: 20 } as const;
/** Share of the time allowed after which a migration that may use post-copy switches to it. */
const POSTCOPY_AT_SHARE = 0.75;

/** What the job watcher saw: the peak dirty rate, the last throttle and the cap in force. */
interface JobSeen {
  dirtyRateMiBs: number;
  /** Passes begun, as QEMU last reported. */
  passes?: number;
  throttlePct?: number;
  capMs?: number;
  postCopyAfterPass?: number;
  postCopyWhy?: string;
}
/**
 * The first pass to end unconverged that relaxes the cap: pass 1 copies all of memory and never
 * converges on its own; a guest that is quiet converges at the end of pass 2 under the first cap.
 * Stepping per pass rather than per unit of time matters for busy guests: every extra pass under
 * a cap too tight to be met resends what the guest dirtied (measured on a 1 GiB guest rewriting
 * 512 MiB: 4 s steps took 7 passes and 1.8 GiB where virsh's fixed 300 ms cap took 3 and 0.6 GiB).
 */
const RAMP_FROM_PASS = 2;
const REPORT_EVERY_MS = 3000;

/**
 * Until the job settles: relaxes the downtime cap along `laterCaps`, one step per pass from
 * RAMP_FROM_PASS on that ends without converging, and reports how much memory is left to copy.
 * With `postCopyAt` (epoch ms), switches to post-copy instead of the first ramp step, or at
 * that time, whichever comes first.
 */
async function watchJob(
  client: LibvirtClient,
  dom: DomainRef,
  progress: Progress,
  done: Promise<unknown>,
  laterCaps: number[],
  seen: JobSeen,
  postCopyAt: number | undefined,
): Promise<void> {
  let finished = false;
  const settled = done.then(
    () => (finished = true),
    () => (finished = true),
  );
  let lastReport = Date.now();
  const caps = [...laterCaps];
  /** The pass whose end last raised the cap (or the last pass that may not raise it). */
  let steppedAt = RAMP_FROM_PASS - 1;
  while (!finished) {
    await Promise.race([settled, new Promise((r) => setTimeout(r, 250))]);
    if (finished) break;
    const now = Date.now();
    const stats = await client.call("domainGetJobStats", { dom, flags: 0 }).then(
      ({ params }) => paramsToRecord(params),
      () => undefined,
    );
    // memory_iteration counts passes begun: when it reaches n, pass n-1 ended unconverged.
    const pass = typeof stats?.memory_iteration === "number" ? stats.memory_iteration : 0;
    if (pass > 0) seen.passes = pass;
    // Before the ramp: with post-copy allowed, a pass that ends unconverged switches instead.
    if (postCopyAt !== undefined && seen.postCopyAfterPass === undefined) {
      const why =
        pass - 1 >= RAMP_FROM_PASS
          ? `pass ${pass - 1} did not converge: the guest rewrites memory faster than it is copied`
          : now >= postCopyAt
            ? "3/4 of the time allowed had passed"
            : undefined;
      if (why) {
        const switched = await client.call("domainMigrateStartPostCopy", { dom, flags: 0 }).then(
          () => true,
          // The job may have just finished, or be in its final pause; pre-copy carries on.
          () => false,
        );
        if (switched) {
          seen.postCopyAfterPass = Math.max(pass - 1, 0); // 0: during the first pass (the time limit)
          seen.postCopyWhy = why;
          const at = typeof stats?.time_elapsed === "number" ? ` ${stats.time_elapsed} ms into the job,` : "";
          const left = typeof stats?.memory_remaining === "number" ? ` ${(stats.memory_remaining / 2 ** 20).toFixed(0)} MiB left` : "";
          progress(`${why};${at} switching to post-copy with${left || " what is left"} (the guest runs on the destination; the rest of its memory follows)`);
        }
      }
    }
    if (caps.length > 0 && pass - 1 > steppedAt && seen.postCopyAfterPass === undefined) {
      steppedAt = pass - 1;
      const cap = caps.shift()!;
      await client.call("domainMigrateSetMaxDowntime", { dom, downtime: BigInt(cap), flags: 0 }).then(
        () => {
          seen.capMs = cap;
          progress(`pass ${pass - 1} did not converge: downtime cap raised to ${cap} ms`);
        },
        // The job may have just finished; anything else leaves the previous cap in force.
        () => undefined,
      );
    }
    const pages = stats?.memory_dirty_rate;
    const pageSize = typeof stats?.memory_page_size === "number" ? stats.memory_page_size : 4096;
    if (typeof pages === "number") seen.dirtyRateMiBs = Math.max(seen.dirtyRateMiBs, (pages * pageSize) / 2 ** 20);
    if (typeof stats?.auto_converge_throttle === "number") seen.throttlePct = stats.auto_converge_throttle;
    if (now - lastReport >= REPORT_EVERY_MS && typeof stats?.memory_remaining === "number") {
      lastReport = now;
      progress(
        `migrating: ${(stats.memory_remaining / 2 ** 20).toFixed(0)} MiB of memory left to copy, pass ${stats.memory_iteration ?? "?"}, guest dirtying ${(((typeof pages === "number" ? pages : 0) * pageSize) / 2 ** 20).toFixed(0)} MiB/s, vCPU throttle ${seen.throttlePct ?? 0} %`,
      );
    }
  }
}

function ordinal(n: number): string {
  return n === 1 ? "1st" : n === 2 ? "2nd" : n === 3 ? "3rd" : `${n}th`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
