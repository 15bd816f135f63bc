import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { withoutInternalKeys } from "../../provider/core/check";
import { COMPUTED_OUTPUTS, type ResourceKind } from "../../provider/core/model";

export const REPO = path.resolve(__dirname, "../..");

/** Runs a project testbed script once per process and returns its last output line. */
const started = new Map<string, string>();
export function testbed(script: string, ...args: string[]): string {
  const key = [script, ...args].join(" ");
  if (!started.has(key)) {
    const out = execFileSync("bash", [path.join(REPO, "test/testbeds", script), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 });
    started.set(key, out.trim().split("\n").pop() ?? "");
  }
  return started.get(key)!;
}

export function virsh(uri: string, ...args: string[]): string {
  return execFileSync("virsh", ["-c", uri, ...args], { encoding: "utf8", timeout: 60_000 });
}

/** virsh, but a failure (e.g. "no such domain") returns undefined instead of throwing. */
export function virshMaybe(uri: string, ...args: string[]): string | undefined {
  try {
    return virsh(uri, ...args);
  } catch {
    return undefined;
  }
}

/** Short unique prefix so parallel or leftover runs never collide on libvirt object names. */
export function uniquePrefix(tag: string): string {
  return `nc${tag}${process.pid.toString(36)}${Date.now().toString(36).slice(-3)}`;
}

/** The input part of a resource's recorded outputs: what a program would send to check() again. */
export function specOf(outs: Record<string, unknown>, kind: ResourceKind = "VirtualMachine"): Record<string, unknown> {
  const outputs = COMPUTED_OUTPUTS[kind];
  return Object.fromEntries(Object.entries(withoutInternalKeys(outs)).filter(([key]) => !outputs.includes(key)));
}

/** The QEMU process of a running domain on this host, from libvirt's pid file. */
export function qemuPid(domain: string): string {
  return readFileSync(`/run/libvirt/qemu/${domain}.pid`, "utf8").trim();
}

/** Retries an assertion every half second until it passes or the time is up (then its error). */
export async function eventually(check: () => void, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
