import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { EngineLog, quickstartStack, stateDir } from "../support/engine";
import { eventually, qemuPid, REPO, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";

const URI = "qemu:///system";
const POLICY_PACK = path.join(REPO, "examples/policy-pack");

/**
 * The quickstart as users run it: its own index.ts and Pulumi.yaml, through the real Pulumi
 * engine (Go-built CLI, file backend, the real dynamic-provider plugin) against the real
 * libvirtd + QEMU. Only names and the subnet are moved aside through the program's own config.
 */
describe("e2e: the quickstart through the real Pulumi engine", function () {
  this.timeout(900_000);
  const prefix = uniquePrefix("qs");
  const vmName = `${prefix}-web`;
  let stack: Stack;

  before(async () => {
    stack = await quickstartStack(prefix, 232);
  });

  after(async () => {
    // Whatever a failed step left behind goes, through the same engine.
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
  });

  it("previews the four resources, and the example policy pack passes them", async () => {
    const log = new EngineLog();
    const result = await stack.preview({ onEvent: log.onEvent, policyPacks: [POLICY_PACK] });
    assert.deepEqual(result.changeSummary, { create: 5 }, log.all()); // 4 resources + the stack
    for (const name of ["images", "web-root", "lab", "web"]) assert.equal(log.op(name), "create");
    assert.deepEqual(log.violations(), []);
    assert.equal(virshMaybe(URI, "dominfo", vmName), undefined, "a preview touched the host");
  });

  it("up creates a running VM with a DHCP address, and every output is recorded", async () => {
    const log = new EngineLog();
    const result = await stack.up({ onOutput: log.onOutput });
    assert.equal(result.summary.result, "succeeded");
    assert.match(virsh(URI, "domstate", vmName), /running/);
    assert.match(String(result.outputs.ip?.value), /^10\.232\.\d+\.\d+$/);
    assert.equal(result.outputs.vmState?.value, "running");
    // A VM never updated has lastChange null, not missing: no "undefined value" warning.
    assert.equal(result.outputs.lastChange?.value, null);
    assert.doesNotMatch(log.all(), /Undefined value/);
  });

  it("a second preview and up change nothing: no output shows as changing", async () => {
    const log = new EngineLog();
    const preview = await stack.preview({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.deepEqual(preview.changeSummary, { same: 5 }, log.all());
    assert.doesNotMatch(log.all(), /\[unknown\]/);
    const up = await stack.up();
    assert.deepEqual(up.summary.resourceChanges, { same: 5 });
  });

  it("a CPU and memory change previews as hotplug + live and is applied to the same QEMU process", async () => {
    const pid = qemuPid(vmName);
    await stack.setAllConfig({ "quickstart:cores": { value: "2" }, "quickstart:memoryMiB": { value: "320" } });
    const log = new EngineLog();
    const preview = await stack.preview({ onEvent: log.onEvent });
    assert.deepEqual(preview.changeSummary, { same: 4, update: 1 });
    const planned = log.plannedClasses("web");
    assert.deepEqual(planned, ["cpu.cores: hotplug", "memory.sizeMiB: live"]);
    const up = await stack.up();
    assert.deepEqual(
      (up.outputs.lastChange?.value as string[] | undefined)?.map((c) => c.split(" (")[0]),
      planned,
    );
    assert.equal(qemuPid(vmName), pid, "the update restarted QEMU");
    assert.match(virsh(URI, "vcpucount", vmName, "--live", "--active"), /^2$/m);
  });

  it("an out-of-band virsh change is found by refresh and planned back", async () => {
    // What an administrator types to make it stick: the running guest and its definition.
    virsh(URI, "setmem", vmName, "256M", "--live", "--config");
    await eventually(() => assert.match(virsh(URI, "dommemstat", vmName), /actual 262144/, "the guest's balloon at 256 MiB"), 60_000);
    const refresh = await stack.refresh();
    assert.equal(refresh.summary.resourceChanges?.update, 1, JSON.stringify(refresh.summary.resourceChanges));
    const log = new EngineLog();
    const preview = await stack.preview({ onEvent: log.onEvent });
    assert.deepEqual(preview.changeSummary, { same: 4, update: 1 });
    assert.deepEqual(log.plannedClasses("web"), ["memory.sizeMiB: live"]);
    await stack.up();
    await eventually(() => assert.match(virsh(URI, "dommemstat", vmName), /actual 327680/, "the balloon back at 320 MiB"), 60_000);
  });

  it("issue 9: `virsh attach-disk … vdb --persistent` (no cache) then refresh, up and a second up all succeed", async () => {
    const image = `/var/lib/novacron-test/${prefix}-extra.img`;
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", image, "16M"]);
    try {
      virsh(URI, "attach-disk", vmName, image, "vdb", "--persistent");
      const refresh = await stack.refresh();
      assert.equal(refresh.summary.result, "succeeded");
      // The recorded disk is one the model accepts: no cache mode is "hypervisor-default", not an invented value.
      const state = await stack.exportStack();
      const web = (state.deployment.resources as { urn: string; outputs?: Record<string, unknown> }[]).find((r) => r.urn.endsWith("::web"));
      assert.equal((web?.outputs?.disks as Record<string, { cache: string }> | undefined)?.vdb?.cache, "hypervisor-default");
      // The program has no vdb: the next up plans it away as a hotplug and applies it.
      const log = new EngineLog();
      const preview = await stack.preview({ onEvent: log.onEvent });
      assert.deepEqual(log.plannedClasses("web"), ["disks.vdb: hotplug"], log.all());
      assert.deepEqual(preview.changeSummary, { same: 4, update: 1 });
      const up = await stack.up();
      assert.equal(up.summary.result, "succeeded");
      await eventually(() => assert.doesNotMatch(virsh(URI, "domblklist", vmName), /extra\.img/, "the guest still holds vdb"), 60_000);
      assert.doesNotMatch(virsh(URI, "dumpxml", vmName, "--inactive"), /extra\.img/);
      const again = await stack.preview();
      assert.deepEqual(again.changeSummary, { same: 5 });
    } finally {
      rmSync(image, { force: true });
    }
  });

  it("the exported state holds no secret in plain text", async () => {
    // The checkpoint file itself (the Automation API's exportStack decrypts secrets).
    const checkpoint = readFileSync(path.join(stateDir(), ".pulumi/stacks/novacron-quickstart", `${stack.name}.json`), "utf8");
    const at = checkpoint.indexOf("hostname: web");
    assert.equal(at, -1, `cloud-init user data in plain text: …${checkpoint.slice(Math.max(0, at - 300), at + 50)}`);
    assert.match(
      checkpoint,
      /"cloudInit":\s*\{\s*"4dabf18193072939515e22adb298388d":\s*"1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/,
      "cloudInit is not an encrypted secret",
    );
  });

  it("destroy shuts the VM down and leaves no domain, network, pool or volume", async () => {
    const result = await stack.destroy();
    assert.equal(result.summary.result, "succeeded");
    assert.equal(virshMaybe(URI, "dominfo", vmName), undefined);
    assert.equal(virshMaybe(URI, "net-info", prefix), undefined);
    assert.equal(virshMaybe(URI, "pool-info", prefix), undefined);
  });
});
