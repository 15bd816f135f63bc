// One vim25 session per (endpoint, user, TLS settings) per process. Every
// resource of a Pulumi program shares it, so a plan with hundreds of VMs holds
// one vCenter session instead of exhausting the server's session limit, and it
// is logged out when the process ends.
import { createHash } from "node:crypto";
import { VimClient, type VimConnectOptions } from "./client";

const sessions = new Map<string, Promise<VimClient>>();
let hooksInstalled = false;
const EXIT_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function keyOf(o: VimConnectOptions): string {
  const h = createHash("sha256");
  // The password is part of the key so a corrected password gets a fresh login;
  // it is hashed, never stored in the map key in clear.
  for (const part of [o.url, o.username, o.password, String(o.insecure ?? false), o.apiVersion ?? "", o.userAgent ?? ""]) {
    h.update(part).update("\0");
  }
  for (const ca of o.ca === undefined ? [] : Array.isArray(o.ca) ? o.ca : [o.ca]) h.update(ca).update("\0");
  return h.digest("hex");
}

/**
 * The shared, logged-in client for these options. A failed login is not
 * cached: the next call tries again once, so wrong credentials cost one Login
 * per caller action, never a retry loop.
 */
export function connect(options: VimConnectOptions): Promise<VimClient> {
  const key = keyOf(options);
  let pending = sessions.get(key);
  if (!pending) {
    pending = new VimClient(options).connect();
    sessions.set(key, pending);
    pending.catch(() => sessions.delete(key));
    installExitHooks();
  }
  return pending;
}

/** Logs out every session of this process; safe to call more than once. */
export async function closeAllSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(
    all.map(async (p) => {
      try {
        await (await p).logout();
      } catch {
        // Logging out is best effort: the server expires idle sessions anyway.
      }
    }),
  );
}

function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
}

function onSignal(signal: NodeJS.Signals): void {
  void withDeadline(closeAllSessions(), 3000).finally(() => {
    removeExitHooks();
    // Re-raise only when nobody else handles the signal, so default termination
    // behaviour (and exit code) is preserved.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function onBeforeExit(): void {
  removeExitHooks();
  if (sessions.size > 0) void closeAllSessions();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once("beforeExit", onBeforeExit);
  for (const s of EXIT_SIGNALS) process.once(s, onSignal);
}

function removeExitHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener("beforeExit", onBeforeExit);
  for (const s of EXIT_SIGNALS) process.removeListener(s, onSignal);
}
