// A real libvirtd killed with SIGKILL while calls are in flight, then
// restarted. It is a private daemon serving only the built-in test driver
// (no driver modules, its own socket directory and pid file), so killing it
// does not disturb the shared libvirtd other tests use.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibvirtClient, LibvirtConnectionError } from "../../../provider/drivers/libvirt/rpc";
import { useLibvirtTestbed, waitFor } from "./testbed";

describe("libvirt RPC: a real libvirtd killed and restarted", function () {
  this.timeout(30_000);
  useLibvirtTestbed();
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-daemon-"));
  const sockDir = join(dir, "run");
  const socket = join(sockDir, "libvirt-sock");
  const uri = `test+unix:///default?socket=${socket}`;
  let daemon: ChildProcess | undefined;

  async function startDaemon(): Promise<ChildProcess> {
    rmSync(socket, { force: true });
    const p = spawn("libvirtd", ["-f", join(dir, "libvirtd.conf"), "-p", join(dir, "libvirtd.pid")], {
      // No driver modules: only the test driver built into libvirt is present.
      env: { ...process.env, LIBVIRT_DRIVER_DIR: join(dir, "no-modules") },
      stdio: "ignore",
    });
    await waitFor(
      () => existsSync(socket),
      (ok) => ok,
      10_000,
      "private libvirtd socket",
    );
    return p;
  }

  before(async () => {
    mkdirSync(sockDir);
    mkdirSync(join(dir, "no-modules"));
    writeFileSync(join(dir, "libvirtd.conf"), `unix_sock_dir = "${sockDir}"\nauth_unix_rw = "none"\n`);
    daemon = await startDaemon();
  });

  after(() => {
    daemon?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("rejects every in-flight call promptly, then reconnects to the restarted daemon", async () => {
    const c = await LibvirtClient.connect(uri);
    assert.equal((await c.call("domainLookupByName", { name: "test" })).dom.name, "test");
    const closed = new Promise<Error>((r) => c.once("closed", r));
    const calls = Array.from({ length: 2000 }, () => c.call("domainLookupByName", { name: "test" }, { timeoutMs: 0 }));
    // Kill as soon as the first answers come back, with most still queued.
    await calls[0];
    const killedAt = Date.now();
    daemon?.kill("SIGKILL");
    const settled = await Promise.allSettled(calls);
    const elapsed = Date.now() - killedAt;
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    assert.ok(rejected.length > 0, "some calls were still in flight at the kill");
    assert.ok(
      rejected.every((r) => r.reason instanceof LibvirtConnectionError),
      String(rejected[0]?.reason),
    );
    assert.ok(elapsed < 1000, `pending calls settled ${elapsed} ms after the kill`);
    assert.ok((await closed) instanceof LibvirtConnectionError);
    assert.equal(c.isOpen, false);

    daemon = await startDaemon();
    const again = await LibvirtClient.connect(uri);
    try {
      assert.equal((await again.call("connectGetUri")).uri, "test:///default");
    } finally {
      await again.close();
    }
  });
});
