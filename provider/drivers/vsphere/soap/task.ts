// Waiting for vSphere tasks. We poll the task's info with backoff rather than
// hold a WaitForUpdatesEx filter: polling needs no server-side collector
// state (nothing to leak when a process dies mid-wait), one round trip per
// look, and a fast task costs exactly one look.
import type { VimClient } from "./client";
import { faultFromLocalized, TaskTimeoutError } from "./faults";
import { num, text, type XNode } from "./node";
import { getProperties } from "./property";
import type { MoRef } from "./xml";

export interface TaskProgress {
  readonly task: MoRef;
  readonly state: "queued" | "running" | "success" | "error";
  /** 0–100 while running, when the server reports it. */
  readonly progress: number | undefined;
  readonly description: string | undefined;
}

export interface WaitOptions {
  /** Give up after this long (the task keeps running on the server). Default 30 minutes. */
  readonly timeoutMs?: number;
  readonly onProgress?: (p: TaskProgress) => void;
  /** First poll delay; doubles up to maxIntervalMs. */
  readonly initialIntervalMs?: number;
  readonly maxIntervalMs?: number;
  readonly signal?: AbortSignal;
}

const TASK_FIELDS = ["info.state", "info.progress", "info.result", "info.error", "info.description"] as const;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Waits for a task and returns info.result (undefined for tasks without one); a task error is thrown as its typed fault. */
export async function waitForTask(client: VimClient, task: MoRef, options: WaitOptions = {}): Promise<XNode | undefined> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let interval = options.initialIntervalMs ?? 25;
  let last = "";
  for (;;) {
    options.signal?.throwIfAborted();
    // Only the fields we use: TaskInfo also carries entity names, reasons and
    // timestamps that the server would otherwise serialise on every look.
    const { props } = await getProperties(client, task, TASK_FIELDS);
    const state = (text(props.get("info.state")) ?? "queued") as TaskProgress["state"];
    const progress = num(props.get("info.progress"));
    const report: TaskProgress = { task, state, progress, description: text(props.get("info.description"), "message") };
    const fingerprint = `${state}/${progress}`;
    if (options.onProgress && fingerprint !== last) options.onProgress(report);
    last = fingerprint;
    if (state === "success") return props.get("info.result");
    if (state === "error") {
      const error = props.get("info.error");
      throw error ? faultFromLocalized(error) : new Error(`vSphere task ${task.value} failed without an error`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new TaskTimeoutError(task, timeoutMs);
    await sleep(Math.min(interval, left), options.signal);
    interval = Math.min(interval * 2, options.maxIntervalMs ?? 2000);
  }
}

/** Starts a *_Task method and waits for it. */
export async function runTask(client: VimClient, method: string, self: MoRef, params: Parameters<VimClient["invoke"]>[2], options?: WaitOptions): Promise<XNode | undefined> {
  const task = await client.invokeRef(method, self, params);
  return waitForTask(client, task, options);
}
