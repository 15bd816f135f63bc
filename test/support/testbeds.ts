import { execFileSync } from "node:child_process";
import * as path from "node:path";

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
