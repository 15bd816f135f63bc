/**
 * Typed wrappers for the few QMP commands the driver reads directly. They
 * take a QmpTransport, so the same code runs over our socket client (tests,
 * bare QEMU) and over libvirt's monitor passthrough (managed domains).
 * Field names stay exactly as QEMU spells them to avoid a translation layer
 * that could drift from the QAPI schema.
 */
import { QmpProtocolError, QmpTimeoutError } from "./errors";
import type { QmpTransport } from "./types";

function asRecord(command: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new QmpProtocolError(`${command}: expected an object, got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

export interface StatusInfo {
  running: boolean;
  /** QAPI RunState, e.g. "running", "paused", "prelaunch", "inmigrate", "postmigrate". */
  status: string;
}

export async function queryStatus(t: QmpTransport): Promise<StatusInfo> {
  const r = asRecord("query-status", await t.execute("query-status"));
  if (typeof r.running !== "boolean" || typeof r.status !== "string") {
    throw new QmpProtocolError(`query-status: unexpected reply ${JSON.stringify(r)}`);
  }
  return { running: r.running, status: r.status };
}

export type MigrationStatus =
  | "none"
  | "setup"
  | "cancelling"
  | "cancelled"
  | "active"
  | "postcopy-active"
  | "postcopy-paused"
  | "postcopy-recover"
  | "completed"
  | "failed"
  | "colo"
  | "pre-switchover"
  | "device"
  | "wait-unplug";

export interface MigrationRamStats {
  transferred: number;
  remaining: number;
  total: number;
  duplicate: number;
  normal: number;
  "normal-bytes": number;
  "dirty-sync-count": number;
  mbps: number;
}

/** Times are milliseconds. QEMU omits fields that do not apply to the current status. */
export interface MigrationInfo {
  status: MigrationStatus;
  "total-time"?: number;
  "expected-downtime"?: number;
  downtime?: number;
  "setup-time"?: number;
  ram?: MigrationRamStats;
  "error-desc"?: string;
}

export async function queryMigrate(t: QmpTransport): Promise<MigrationInfo> {
  const r = asRecord("query-migrate", await t.execute("query-migrate"));
  // Before any migration QEMU replies {} rather than {"status": "none"}.
  return { ...r, status: (r.status as MigrationStatus | undefined) ?? "none" } as MigrationInfo;
}

/** Starts an outgoing migration; completion is observed with waitForMigration. */
export async function migrate(t: QmpTransport, uri: string): Promise<void> {
  await t.execute("migrate", { uri });
}

const FINAL: ReadonlySet<MigrationStatus> = new Set(["completed", "failed", "cancelled"]);

/**
 * Polls query-migrate until a final status. Polling (not the MIGRATION event)
 * because libvirt's passthrough transport does not deliver QEMU events.
 */
export async function waitForMigration(t: QmpTransport, options: { timeoutMs: number; intervalMs?: number }): Promise<MigrationInfo> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const info = await queryMigrate(t);
    if (FINAL.has(info.status)) return info;
    if (Date.now() >= deadline) {
      throw new QmpTimeoutError(`query-migrate (still ${info.status})`, options.timeoutMs);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

export interface BalloonInfo {
  /** Current guest memory size in bytes as seen by the balloon. */
  actual: number;
}

export async function queryBalloon(t: QmpTransport): Promise<BalloonInfo> {
  const r = asRecord("query-balloon", await t.execute("query-balloon"));
  if (typeof r.actual !== "number") throw new QmpProtocolError(`query-balloon: unexpected reply ${JSON.stringify(r)}`);
  return { actual: r.actual };
}

/** libvirt names its balloon device "balloon0"; bare QEMU needs `-device virtio-balloon,id=balloon0`. */
export const DEFAULT_BALLOON_PATH = "/machine/peripheral/balloon0";

/** Stats are only collected after a positive polling interval is set; 0 stops polling. */
export async function setBalloonStatsInterval(t: QmpTransport, seconds: number, path: string = DEFAULT_BALLOON_PATH): Promise<void> {
  await t.execute("qom-set", { path, property: "guest-stats-polling-interval", value: seconds });
}

export interface BalloonGuestStats {
  /**
   * Keys like "stat-free-memory", "stat-total-memory" (bytes). null where the
   * guest reported nothing: QEMU sends (uint64)-1 there, which JSON.parse
   * rounds to 18446744073709552000, so the raw number is never -1.
   */
  stats: Record<string, number | null>;
  /** Host-side seconds of the last guest update; 0 until the guest driver has reported. */
  lastUpdate: number;
}

/** No real statistic comes near 2^63; anything at or above it is the "unavailable" sentinel. */
const UNAVAILABLE_FLOOR = 2 ** 63;

export async function balloonGuestStats(t: QmpTransport, path: string = DEFAULT_BALLOON_PATH): Promise<BalloonGuestStats> {
  const r = asRecord("qom-get", await t.execute("qom-get", { path, property: "guest-stats" }));
  const stats = asRecord("qom-get guest-stats", r.stats ?? {});
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(stats)) {
    if (typeof v === "number") out[k] = v < 0 || v >= UNAVAILABLE_FLOOR ? null : v;
  }
  return { stats: out, lastUpdate: typeof r["last-update"] === "number" ? r["last-update"] : 0 };
}
