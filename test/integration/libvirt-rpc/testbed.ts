// Shared setup for the libvirt RPC integration tests: bring up the real
// libvirtd once per mocha process, and small helpers to cross-check results
// with libvirt's own CLI.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const SCRIPT = resolve(__dirname, "../../testbeds/libvirt.sh");

let ready: Promise<void> | undefined;

/** Runs test/testbeds/libvirt.sh once; every test file awaits this in `before`. */
export function ensureLibvirt(): Promise<void> {
  if (process.getuid?.() !== 0) {
    return Promise.reject(new Error("libvirt RPC integration tests must run as root: test/testbeds/libvirt.sh installs packages and starts libvirtd"));
  }
  ready ??= execFileP("bash", [SCRIPT], { maxBuffer: 64 << 20 }).then(
    () => undefined,
    (e: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`test/testbeds/libvirt.sh failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    },
  );
  return ready;
}

/** Registers the testbed `before` hook in the calling suite. */
export function useLibvirtTestbed(): void {
  before(async function () {
    this.timeout(900_000);
    await ensureLibvirt();
  });
}

export function virsh(uri: string, ...args: string[]): string {
  return execFileSync("virsh", ["-c", uri, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the first value `fn` returns that satisfies `ok`, or throws after `ms`. */
export async function waitFor<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last value ${String(last)}`);
}
