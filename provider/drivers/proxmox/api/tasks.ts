import type { Progress } from "../../../core/driver";
import type { PveClient } from "./client";
import { PveApiError, PveTaskError, taskLabel } from "./errors";

export interface Waiting {
  progress: Progress;
  /** Epoch ms: past it the wait gives up (the task itself runs on in PVE). */
  deadline: number;
}

interface TaskStatus {
  status: "running" | "stopped";
  exitstatus?: string;
}

/**
 * Waits for a task PVE started (its UPID). Polls fast at first, as most config tasks end in
 * milliseconds, then once a second; says every 10 s that it still runs. The log is read only
 * when there is something to show: a task ending in anything but OK (or PVE's "WARNINGS: n")
 * fails with the end of its log, and warnings are passed on as a progress line.
 */
export async function waitForTask(client: PveClient, upid: string, waiting: Waiting): Promise<void> {
  const node = upid.split(":")[1];
  const path = `/nodes/${node}/tasks/${upid}`;
  const started = Date.now();
  let delay = 20;
  let said = started;
  for (;;) {
    const status = await client.get<TaskStatus>(`${path}/status`);
    if (status.status === "stopped") {
      const exit = status.exitstatus ?? "unknown";
      if (exit === "OK") {
        if (Date.now() - started > 5000) waiting.progress(`${taskLabel(upid)}: done after ${Math.round((Date.now() - started) / 1000)} s`);
        return;
      }
      const log = await taskLog(client, path);
      if (!/^WARNINGS: \d+$/.test(exit)) throw new PveTaskError(upid, exit, log);
      waiting.progress(
        `${taskLabel(upid)} ended with ${exit}: ${log
          .filter((l) => /^WARN/.test(l))
          .slice(-3)
          .join(" | ")}`,
      );
      return;
    }
    const now = Date.now();
    if (now + delay > waiting.deadline) {
      throw new Error(`Proxmox VE task ${taskLabel(upid)} still runs after ${Math.round((now - started) / 1000)} s, past the operation deadline; it goes on in PVE (${upid})`);
    }
    if (now - said >= 10_000) {
      said = now;
      waiting.progress(`${taskLabel(upid)}: running for ${Math.round((now - started) / 1000)} s`);
    }
    await sleep(delay);
    delay = Math.min(1000, Math.round(delay * 1.6));
  }
}

async function taskLog(client: PveClient, path: string): Promise<string[]> {
  try {
    const lines = await client.get<{ n: number; t: string }[]>(`${path}/log`, { start: 0, limit: 1000 });
    return lines.map((l) => l.t);
  } catch (error) {
    if (error instanceof PveApiError) return [`(the task log could not be read: ${error.reason})`];
    throw error;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
