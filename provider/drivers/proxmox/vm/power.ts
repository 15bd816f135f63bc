import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveTaskError } from "../api/errors";
import { retryWhileLocked } from "../api/retry";
import { waitForTask } from "../api/tasks";

export interface GuestStatus {
  status: "running" | "stopped";
  /** QEMU's own view: running, paused, prelaunch, … */
  qmpstatus?: string;
  lock?: string;
  /** PVE reports the tags here too, so delete needs no config read to see NovaCron's mark. */
  tags?: string;
  name?: string;
}

export class Guest {
  constructor(
    readonly client: PveClient,
    readonly node: string,
    readonly vmid: number,
  ) {}

  get path(): string {
    return `/nodes/${this.node}/qemu/${this.vmid}`;
  }

  status(): Promise<GuestStatus> {
    return this.client.get<GuestStatus>(`${this.path}/status/current`);
  }

  /** POSTs a status action and waits for its task, again while another operation holds the lock. */
  async action(action: "start" | "stop" | "shutdown" | "reboot" | "suspend" | "resume", ctx: OperationContext, params: Record<string, number> = {}): Promise<void> {
    await retryWhileLocked(
      `${action} of VM ${this.vmid}`,
      async () => {
        const upid = await this.client.post<string>(`${this.path}/status/${action}`, params);
        await waitForTask(this.client, upid, ctx);
      },
      ctx.deadline,
      ctx.progress,
    );
  }

  /**
   * Graceful first: an ACPI shutdown PVE gives up on after the spec's timeout, then a hard stop.
   * The timeout is PVE's own task parameter, so the guest gets exactly that long.
   */
  async shutdown(spec: Pick<VirtualMachineSpec, "updatePolicy">, ctx: OperationContext): Promise<void> {
    const timeout = spec.updatePolicy.shutdownTimeoutSeconds;
    if (timeout > 0) {
      ctx.progress(`shutting down VM ${this.vmid} (ACPI, up to ${timeout} s)`);
      try {
        await this.action("shutdown", ctx, { timeout });
        return;
      } catch (error) {
        if (!(error instanceof PveTaskError) || error.isLock) throw error;
        ctx.progress(`graceful shutdown did not finish (${error.exitStatus}); stopping VM ${this.vmid}`);
      }
    }
    if ((await this.status()).status === "running") await this.action("stop", ctx);
  }

  /**
   * Brings the guest to the spec's power state: start, resume, suspend or shut down. `now` saves
   * a status read when the caller has just made one. Answers the state PVE's tasks ended in (a
   * task that ended OK leaves the VM in the state it was for), so no read follows.
   */
  async converge(spec: VirtualMachineSpec, ctx: OperationContext, now?: GuestStatus): Promise<GuestStatus> {
    now ??= await this.status();
    const paused = now.status === "running" && now.qmpstatus === "paused";
    const running: GuestStatus = { status: "running", qmpstatus: "running" };
    if (spec.powerState === "running") {
      if (now.status !== "running") {
        ctx.progress(`starting VM ${this.vmid}`);
        await this.action("start", ctx);
      } else if (paused) await this.action("resume", ctx);
      return now.status === "running" && !paused ? now : running;
    }
    if (spec.powerState === "paused") {
      if (now.status !== "running") await this.action("start", ctx);
      if (!paused) await this.action("suspend", ctx);
      return { status: "running", qmpstatus: "paused" };
    }
    if (now.status === "running") await this.shutdown(spec, ctx);
    return { status: "stopped" };
  }
}
