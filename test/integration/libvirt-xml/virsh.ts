import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "../../..");
export const URI = "qemu:///system";
/** Every object these tests create carries this prefix, so parallel runs and other suites never collide. */
export const TAG = `ncxml-it-${process.pid}`;

export function run(cmd: string, args: string[], timeoutMs = 120_000) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function virsh(...args: string[]): string {
  const r = run("virsh", ["-c", URI, ...args]);
  assert.equal(r.status, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** For cleanup: the object may already be gone. */
export function tryVirsh(...args: string[]): void {
  run("virsh", ["-c", URI, ...args]);
}

export function withFile<T>(xml: string, use: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ncxml-"));
  try {
    const file = path.join(dir, "doc.xml");
    fs.writeFileSync(file, xml);
    return use(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Brings up the real libvirtd (idempotent project script). */
export function ensureLibvirtd(): void {
  const r = run("bash", [path.join(REPO, "test/testbeds/libvirt.sh")], 900_000);
  assert.equal(r.status, 0, `libvirt.sh failed: ${r.stderr}${r.stdout}`);
}

/** The testbed guest (kernel + busybox initramfs); returns its directory. */
export function guestImage(): string {
  const r = run("bash", ["-c", `bash ${path.join(REPO, "test/testbeds/guest-image.sh")} | tail -1`], 900_000);
  assert.equal(r.status, 0, `guest-image.sh failed: ${r.stderr}`);
  return r.stdout.trim();
}
