// Power operations. Each is idempotent: asking for the state the VM is already
// in is a no-op rather than an InvalidPowerState fault.
import { getProperties, runTask, text, type MoRef, type VimClient, type WaitOptions, type XNode } from "../soap";
import type { PowerState } from "./spec";

export async function powerState(client: VimClient, vm: MoRef): Promise<PowerState> {
  const c = await getProperties(client, vm, ["runtime.powerState"]);
  return (text(c.props.get("runtime.powerState")) ?? "poweredOff") as PowerState;
}

export async function powerOn(client: VimClient, vm: MoRef, options?: WaitOptions): Promise<void> {
  if ((await powerState(client, vm)) === "poweredOn") return;
  await runTask(client, "PowerOnVM_Task", vm, {}, options);
}

/** Hard power off, like pulling the plug. */
export async function powerOff(client: VimClient, vm: MoRef, options?: WaitOptions): Promise<void> {
  if ((await powerState(client, vm)) === "poweredOff") return;
  await runTask(client, "PowerOffVM_Task", vm, {}, options);
}

/** Suspends a running VM (memory to disk); a suspended VM stays as it is. */
export async function suspend(client: VimClient, vm: MoRef, options?: WaitOptions): Promise<void> {
  const state = await powerState(client, vm);
  if (state === "suspended") return;
  if (state === "poweredOff") await runTask(client, "PowerOnVM_Task", vm, {}, options);
  await runTask(client, "SuspendVM_Task", vm, {}, options);
}

/** What shutdownGuest decides on. */
export const SHUTDOWN_FIELDS = ["runtime.powerState", "guest.toolsRunningStatus"] as const;

export interface ShutdownOptions {
  /** How long the guest gets to shut down. Default 120 s. */
  readonly timeoutMs?: number;
  /** Power off hard when the guest has not stopped in time (default true). */
  readonly forceAfterTimeout?: boolean;
}

/**
 * Asks VMware Tools to shut the guest down and waits for poweredOff. Without
 * running tools there is nobody to ask, so this powers off directly.
 */
export async function shutdownGuest(
  client: VimClient,
  vm: MoRef,
  options: ShutdownOptions = {},
  /** The VM's SHUTDOWN_FIELDS when the caller has read them already (saves a round trip). */
  known?: ReadonlyMap<string, XNode>,
): Promise<"guest" | "forced" | "already"> {
  const props = known ?? (await getProperties(client, vm, SHUTDOWN_FIELDS)).props;
  if (text(props.get("runtime.powerState")) === "poweredOff") return "already";
  if (text(props.get("guest.toolsRunningStatus")) === "guestToolsRunning") {
    await client.invoke("ShutdownGuest", vm);
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    for (let wait = 250; Date.now() < deadline; wait = Math.min(wait * 2, 5000)) {
      if ((await powerState(client, vm)) === "poweredOff") return "guest";
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))));
    }
    if (options.forceAfterTimeout === false) throw new Error(`guest of ${vm.value} did not shut down in time`);
  }
  await runTask(client, "PowerOffVM_Task", vm, {});
  return "forced";
}
