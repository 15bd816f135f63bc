import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { exampleStack, quickstartStack, useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix, virsh } from "../support/testbeds";

const URI = "qemu:///system";

/** Every process below this one (the CLI, its plugins, the provider host), deepest first. */
function descendants(): number[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [pid, ppid] of rows)
      if (ppid === parent) {
        walk(pid);
        found.push(pid);
      }
  };
  walk(process.pid);
  return found;
}

function killEverythingBelowUs(): void {
  for (const pid of descendants()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function domainsNamed(uri: string, name: string): number {
  return virsh(uri, "list", "--all", "--name")
    .split("\n")
    .filter((n) => n.trim() === name).length;
}

/**
 * kill -9 of the Pulumi CLI and the provider host in the middle of a VM create, then the
 * recovery the README documents: `pulumi refresh --clear-pending-creates`, then `pulumi up`.
 * It must end with exactly one VM, recorded once, and state that matches it.
 */
describe("e2e: crash recovery through the real Pulumi engine", function () {
  this.timeout(900_000);
  const prefix = uniquePrefix("cr");
  const vmName = `${prefix}-web`;
  let stack: Stack;

  before(async () => {
    stack = await quickstartStack(prefix, 233);
  });

  after(async () => {
    await stack?.cancel().catch(() => undefined); // a failed step may have left the lock
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
  });

  it("a create killed with -9 (CLI and provider) is recovered by refresh + up with exactly one VM", async () => {
    const up = stack.up();
    const crashed = up.then(
      () => "finished",
      () => "failed",
    );
    // The moment libvirt has the domain, the create is under way (boot and IP wait follow).
    for (const end = Date.now() + 300_000; domainsNamed(URI, vmName) === 0; ) {
      assert.ok(Date.now() < end, "the VM was never defined");
      await new Promise((r) => setTimeout(r, 200));
    }
    killEverythingBelowUs();
    assert.equal(await crashed, "failed");

    // The documented recovery: drop the dead CLI's lock, clear the interrupted create, converge.
    await stack.cancel();
    await stack.refresh({ clearPendingCreates: true });
    const result = await stack.up();
    assert.equal(result.summary.result, "succeeded");

    assert.equal(domainsNamed(URI, vmName), 1, "exactly one VM after recovery");
    const state = (await stack.exportStack()).deployment as { resources: { type: string; id?: string; outputs?: Record<string, unknown> }[]; pending_operations?: unknown[] };
    const vms = state.resources.filter((r) => r.type.endsWith(":VirtualMachine"));
    assert.equal(vms.length, 1, "exactly one VM in state");
    assert.equal(vms[0].id, virsh(URI, "domuuid", vmName).trim());
    assert.equal(vms[0].outputs?.state, "running");
    assert.deepEqual(state.pending_operations ?? [], []);
    const second = await stack.preview();
    assert.deepEqual(second.changeSummary, { same: 5 });
  });
});

/**
 * kill -9 of the CLI and the provider the moment a live migration between two real libvirtd
 * daemons has started. Whichever way libvirt ends the migration, refresh + up must leave one
 * running VM on one host, recorded where it runs, and a program that then changes nothing.
 */
describe("e2e: crash recovery in the middle of a live migration", function () {
  this.timeout(900_000);
  const PEER = "qemu+tcp://10.213.0.2/system";
  const prefix = uniquePrefix("cm");
  let stack: Stack;

  before(async () => {
    testbed("libvirt.sh");
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    const guest = testbed("guest-image.sh");
    useRealEngine();
    const hosts = {
      kvm1: { driver: "libvirt", uri: URI, peerUri: "qemu+tcp://10.213.0.1/system", migrationUri: "tcp://10.213.0.1" },
      kvm2: { driver: "libvirt", uri: PEER, migrationUri: "tcp://10.213.0.2" },
    };
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/mover"), prefix, {
      "novacron:hosts": JSON.stringify(hosts),
      "mover:guestDir": guest,
      "mover:name": prefix,
      "mover:host": "kvm1",
    });
  });

  after(async () => {
    await stack?.cancel().catch(() => undefined); // a failed step may have left the lock
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
  });

  it("a migration killed with -9 ends, after refresh + up, as one running VM recorded on the host it runs on", async () => {
    await stack.up();
    assert.equal(domainsNamed(URI, prefix), 1);
    await stack.setConfig("mover:host", { value: "kvm2" });

    let started: () => void = () => undefined;
    const migrationStarted = new Promise<void>((resolve) => (started = resolve));
    const moving = stack.up({ onEvent: (e) => /live migration to .* started/.test(e.diagnosticEvent?.message ?? "") && started() });
    const outcome = moving.then(
      () => "finished",
      () => "failed",
    );
    assert.equal(await Promise.race([migrationStarted.then(() => "started"), outcome]), "started", "the migration never started");
    killEverythingBelowUs();
    assert.equal(await outcome, "failed");

    await stack.cancel();
    await stack.refresh({ clearPendingCreates: true });
    const result = await stack.up();
    assert.equal(result.outputs.host?.value, "kvm2");
    // One domain in all, running on kvm2: no copy, running or stopped, left on kvm1.
    assert.equal(domainsNamed(PEER, prefix), 1);
    assert.match(virsh(PEER, "domstate", prefix), /running/);
    assert.equal(domainsNamed(URI, prefix), 0, "a copy is left on kvm1");
    const state = (await stack.exportStack()).deployment as { resources: { type: string; id?: string; outputs?: Record<string, unknown> }[] };
    const vms = state.resources.filter((r) => r.type.endsWith(":VirtualMachine"));
    assert.equal(vms.length, 1);
    assert.equal(vms[0].outputs?.host, "kvm2");
    assert.equal(vms[0].id, virsh(PEER, "domuuid", prefix).trim());
    assert.deepEqual((await stack.preview()).changeSummary, { same: 2 });
  });
});
