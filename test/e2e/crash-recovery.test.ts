import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { exampleStack, useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix, virsh } from "../support/testbeds";

const URI = "qemu:///system";

/** Every process below this one (the CLI, its plugins, the provider host), deepest first. */
function descendants(): number[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" }).trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [pid, ppid] of rows) if (ppid === parent) { walk(pid); found.push(pid); }
  };
  walk(process.pid);
  return found;
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
    testbed("libvirt.sh");
    const guest = testbed("guest-image.sh");
    useRealEngine();
    stack = await exampleStack(path.join(REPO, "examples/quickstart"), prefix, {
      "quickstart:guestDir": guest,
      "quickstart:prefix": prefix,
      "quickstart:subnet": `10.233.${20 + (process.pid % 200)}`,
      "quickstart:poolPath": `/var/lib/novacron-test/${prefix}`,
    });
  });

  after(async () => {
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
  });

  it("a create killed with -9 (CLI and provider) is recovered by refresh + up with exactly one VM", async () => {
    const up = stack.up();
    const crashed = up.then(() => "finished", () => "failed");
    // The moment libvirt has the domain, the create is under way (boot and IP wait follow).
    const defined = () => virsh(URI, "list", "--all", "--name").split("\n").some((n) => n.trim() === vmName);
    for (const end = Date.now() + 300_000; !defined(); ) {
      assert.ok(Date.now() < end, "the VM was never defined");
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const pid of descendants()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    assert.equal(await crashed, "failed");

    // The documented recovery: clear the interrupted create, then converge.
    await stack.cancel().catch(() => undefined);
    await stack.refresh({ clearPendingCreates: true });
    const result = await stack.up();
    assert.equal(result.summary.result, "succeeded");

    const domains = virsh(URI, "list", "--all", "--name").split("\n").filter((n) => n.trim() === vmName);
    assert.equal(domains.length, 1, "exactly one VM after recovery");
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
