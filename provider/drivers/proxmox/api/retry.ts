import type { Progress } from "../../../core/driver";
import { PveApiError, PveTaskError } from "./errors";
import { sleep } from "./tasks";

/**
 * Runs `attempt` again while the guest's config lock is held by another operation (a backup,
 * a migration, a task of a parallel `up`): PVE answers "VM is locked (backup)" at once, or
 * "can't lock file … got timeout" after waiting for the lock itself. Backs off from 0.2 s to
 * 5 s and gives up at the deadline with what held the lock, how long and how often it was tried.
 */
export async function retryWhileLocked<T>(
  what: string,
  attempt: () => Promise<T>,
  deadline: number,
  progress: Progress,
  /** What stayed locked and how a stale lock is cleared, for the give-up message. */
  held = { subject: "the VM", clear: "clear a stale lock with `qm unlock`" },
): Promise<T> {
  const started = Date.now();
  let delay = 200;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const locked = (error instanceof PveApiError || error instanceof PveTaskError) && error.isLock;
      if (!locked) throw error;
      const reason = error instanceof PveApiError ? error.reason : error.exitStatus;
      // Short of the deadline, one last attempt is made at it rather than giving up early.
      const remaining = deadline - Date.now();
      if (remaining <= 50) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        throw new Error(
          `${what}: ${held.subject} stayed locked for ${seconds} s (${tries} attempts; PVE said "${reason}"); gave up at the operation deadline. Wait for the operation holding the lock to end, or ${held.clear}`,
          { cause: error },
        );
      }
      if (tries === 1 || tries % 5 === 0) progress(`${what}: ${reason}; retrying (attempt ${tries + 1})`);
      await sleep(Math.min(delay, remaining - 50));
      delay = Math.min(5000, delay * 2);
    }
  }
}
