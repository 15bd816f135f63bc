import type { OperationContext } from "../../../core/driver";
import type { PveClient } from "../api/client";
import { PveApiError, PveTaskError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";

export interface CtStatus {
  status: "running" | "stopped";
  lock?: string;
  tags?: string;
  name?: string;
}

/** One LXC container's paths and power actions (`/nodes/{node}/lxc/{vmid}`). */
export class Ct {
  constructor(
    readonly client: PveClient,
    readonly node: string,
    readonly vmid: number,
  ) {}

  get path(): string {
    return `/nodes/${this.node}/lxc/${this.vmid}`;
  }

  status(): Promise<CtStatus> {
    return this.client.get<CtStatus>(`${this.path}/status/current`);
  }

  /** The status, or undefined when the container is gone. */
  async statusIfAny(): Promise<CtStatus | undefined> {
    try {
      return await this.status();
    } catch (error) {
      if (error instanceof PveApiError && error.isMissingGuest) return undefined;
      throw error;
    }
  }

  async action(action: "start" | "stop" | "shutdown" | "reboot", ctx: OperationContext, params: Record<string, number> = {}): Promise<void> {
    await retryWhileLocked(
      `${action} of container ${this.vmid}`,
      async () => {
        const upid = await this.client.post<string>(`${this.path}/status/${action}`, params);
        await waitForTask(this.client, upid, ctx);
      },
      ctx.deadline,
      ctx.progress,
    );
  }

  /** A clean shutdown within PVE's own timeout, then a stop: never a hard stop first. */
  async shutdown(timeoutSeconds: number, ctx: OperationContext): Promise<void> {
    if (timeoutSeconds > 0) {
      ctx.progress(`shutting down container ${this.vmid} (up to ${timeoutSeconds} s)`);
      try {
        await this.action("shutdown", ctx, { timeout: timeoutSeconds });
        return;
      } catch (error) {
        if (!(error instanceof PveTaskError) || error.isLock) throw error;
        ctx.progress(`clean shutdown did not finish (${error.exitStatus}); stopping container ${this.vmid}`);
      }
    }
    if ((await this.status()).status === "running") await this.action("stop", ctx);
  }

  /** Start or shut down to reach `want`; answers the state reached. */
  async converge(want: "running" | "stopped", timeoutSeconds: number, ctx: OperationContext, now?: CtStatus): Promise<"running" | "stopped"> {
    const status = (now ?? (await this.status())).status;
    if (want === "running" && status !== "running") {
      ctx.progress(`starting container ${this.vmid}`);
      await this.action("start", ctx);
    }
    if (want === "stopped" && status === "running") await this.shutdown(timeoutSeconds, ctx);
    return want;
  }
}
