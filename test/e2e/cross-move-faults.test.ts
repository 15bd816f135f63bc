import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { blankDiskName } from "../../provider/drivers/libvirt/resources/vm-context";
import { VimClient } from "../../provider/drivers/vsphere/soap";
import { vcsim } from "../integration/vsphere/testbed";
import {
  crossMoverHosts,
  DATASTORE,
  datastoreRoot,
  dropPool,
  journalFiles,
  killEverythingBelowUs,
  libvirtVolumeSha,
  makePool,
  uploadPattern,
  URI,
  vcVm,
  vmdkSha,
} from "../support/cross-move";
import { EngineLog, exampleStack, useRealEngine } from "../support/engine";
import { TcpProxy } from "../support/tcp-proxy";
import { REPO, testbed, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";

const SIZES = { vda: 64 * 1048576, vdb: 32 * 1048576 };

/**
 * Faults in the middle of a KVM → vSphere move, through the real engine: vCenter is reached
 * through a TCP relay that can slow or cut connections for real. Each fault must leave the VM on
 * KVM with its disks (running again), nothing of it on vSphere, state pointing at KVM, and the
 * next `up` must finish the move.
 */
describe("e2e: a cross-hypervisor move that fails or is killed half-way", function () {
  this.timeout(1_500_000);
  const prefix = uniquePrefix("xf");
  const journals = path.join(REPO, ".cache", `${prefix}-journal`);
  let stack: Stack;
  let vim: VimClient;
  let proxy: TcpProxy;
  let root: string;
  const patterns: Record<string, string> = {};

  before(async function () {
    this.timeout(600_000);
    testbed("libvirt.sh");
    const sim = vcsim();
    useRealEngine();
    mkdirSync(journals, { recursive: true });
    // The provider host inherits the CLI's environment, which is this process's.
    process.env.NOVACRON_MOVE_JOURNAL_DIR = journals;
    const url = new URL(sim.url);
    proxy = await TcpProxy.start(url.hostname, Number(url.port));
    makePool(prefix);
    vim = new VimClient(sim.options);
    await vim.connect();
    root = await datastoreRoot(DATASTORE);
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/cross-mover"), prefix, {
      "novacron:hosts": { value: crossMoverHosts(`https://127.0.0.1:${proxy.port}/sdk`), secret: true },
      "xmove:host": "kvm",
      "xmove:name": prefix,
      "xmove:pool": prefix,
      "xmove:power": "stopped",
    });
    await stack.up();
    for (const [slot, bytes] of Object.entries(SIZES)) patterns[slot] = uploadPattern(URI, prefix, blankDiskName(prefix, slot), bytes, `${prefix}-${slot}`);
    await stack.setConfig("xmove:power", { value: "running" });
    await stack.up();
    await stack.setConfig("xmove:host", { value: "vc" });
    await stack.setConfig("xmove:pool", { value: DATASTORE });
  });

  after(async () => {
    proxy.rate = undefined;
    proxy.cutAfter = undefined;
    await stack?.cancel().catch(() => undefined);
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
    dropPool(prefix);
    await vim?.logout().catch(() => undefined);
    await proxy?.close();
    delete process.env.NOVACRON_MOVE_JOURNAL_DIR;
    rmSync(journals, { recursive: true, force: true });
  });

  /** What every undone move must leave: the VM running on KVM with the pattern, nothing on vSphere, state on KVM. */
  async function assertStillOnKvm(why: string): Promise<void> {
    assert.match(virsh(URI, "domstate", prefix), /running/, `${why}: the source is not running again`);
    for (const slot of Object.keys(SIZES)) assert.equal(libvirtVolumeSha(URI, prefix, blankDiskName(prefix, slot)), patterns[slot], `${why}: ${slot} on KVM`);
    assert.equal(await vcVm(vim, prefix), undefined, `${why}: a VM is left on vSphere`);
    const folder = path.join(root, prefix);
    const files = existsSync(folder) ? readdirSync(folder) : [];
    assert.deepEqual(files, [], `${why}: files left on the datastore`);
    assert.deepEqual(journalFiles(journals), [], `${why}: the journal is left`);
    const state = (await stack.exportStack()).deployment as { resources: { type: string; outputs?: Record<string, unknown> }[] };
    assert.equal(state.resources.find((r) => r.type.endsWith(":VirtualMachine"))?.outputs?.host, "kvm", `${why}: state`);
  }

  it("vCenter refuses the VM after the disks are copied (a portgroup it does not have): undone, source running", async () => {
    await stack.setConfig("xmove:network", { value: `${prefix}-no-such-portgroup` });
    const log = new EngineLog();
    await assert.rejects(stack.up({ onOutput: log.onOutput }));
    assert.match(log.all(), /guest-visible bytes identical on both hosts/, "the disks were copied before the refusal");
    assert.match(
      log.all(),
      /the move of VM "[^"]+" from "kvm" to "vc" failed: .*no-such-portgroup.*the VM stays on "kvm" and running again, with its disks; nothing of it is left on "vc"/,
    );
    await assertStillOnKvm("refused");
    await stack.removeConfig("xmove:network");
  });

  it("the disk upload breaks off: undone, source running", async () => {
    proxy.cutAfter = 16 * 1048576;
    const log = new EngineLog();
    try {
      await assert.rejects(stack.up({ onOutput: log.onOutput }));
    } finally {
      proxy.cutAfter = undefined;
    }
    assert.ok(proxy.cuts > 0, "the relay never cut a connection");
    assert.match(log.all(), /failed: .*the VM stays on "kvm" and running again/);
    await assertStillOnKvm("upload cut");
  });

  it("the provider and the CLI are killed (-9) during the copy; the next up finishes the move, one VM, same bytes", async () => {
    proxy.rate = 3 * 1048576;
    let copying: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (copying = resolve));
    const moving = stack.up({ onEvent: (e) => /disks\.vda upload: \d+ of/.test(e.diagnosticEvent?.message ?? "") && copying() });
    const outcome = moving.then(
      () => "finished",
      () => "failed",
    );
    assert.equal(await Promise.race([started.then(() => "copying"), outcome]), "copying", "the copy never started");
    killEverythingBelowUs();
    assert.equal(await outcome, "failed");
    proxy.rate = undefined;
    // Killed mid-copy: the source is stopped, the journal says what was being written.
    assert.match(virsh(URI, "domstate", prefix), /shut off/);
    const [journal] = journalFiles(journals);
    assert.ok(journal, "no journal after the kill");
    const record = JSON.parse(readFileSync(path.join(journals, journal), "utf8")) as { phase: string; imported: Record<string, unknown> };
    assert.equal(record.phase, "copying");
    assert.ok("vda" in record.imported, JSON.stringify(record));

    // The README's recovery: drop the dead CLI's lock, refresh, up.
    await stack.cancel();
    await stack.refresh({ clearPendingCreates: true });
    const log = new EngineLog();
    const result = await stack.up({ onOutput: log.onOutput });
    assert.match(log.all(), /removing disks an earlier, interrupted run of this move left on the target/);
    assert.equal(result.outputs.host.value, "vc");
    const onVc = await vcVm(vim, prefix);
    assert.equal(onVc?.power, "poweredOn");
    assert.equal(result.outputs.hostId.value, onVc?.id);
    assert.equal(virshMaybe(URI, "domstate", prefix), undefined, "the source is left on KVM");
    for (const slot of Object.keys(SIZES)) {
      assert.equal(virshMaybe(URI, "vol-info", "--pool", prefix, blankDiskName(prefix, slot)), undefined, `${slot} left on KVM`);
      assert.equal(vmdkSha(root, `${prefix}/${prefix}-${slot}.vmdk`), patterns[slot], `${slot} on vSphere`);
    }
    assert.deepEqual(journalFiles(journals), []);
    await stack.refresh();
    assert.deepEqual((await stack.preview()).changeSummary, { same: 2 });
  });
  it("killed (-9) while the VM is being defined on KVM (the way back); the next up finishes the move from there", async () => {
    await stack.setConfig("xmove:host", { value: "kvm" });
    await stack.setConfig("xmove:pool", { value: prefix });
    let defining: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (defining = resolve));
    const moving = stack.up({ onEvent: (e) => /defining the VM on "kvm"/.test(e.diagnosticEvent?.message ?? "") && defining() });
    const outcome = moving.then(
      () => "finished",
      () => "failed",
    );
    assert.equal(await Promise.race([reached.then(() => "defining"), outcome]), "defining", "the move never reached the target create");
    killEverythingBelowUs();
    assert.equal(await outcome, "failed");

    await stack.cancel();
    await stack.refresh({ clearPendingCreates: true });
    const log = new EngineLog();
    const result = await stack.up({ onOutput: log.onOutput });
    assert.equal(result.outputs.host.value, "kvm", log.all());
    assert.match(virsh(URI, "domstate", prefix), /running/);
    assert.equal(result.outputs.hostId.value, virsh(URI, "domuuid", prefix).trim());
    for (const slot of Object.keys(SIZES)) assert.equal(libvirtVolumeSha(URI, prefix, blankDiskName(prefix, slot)), patterns[slot], `${slot} back on KVM`);
    assert.equal(await vcVm(vim, prefix), undefined, "the VM is left on vSphere");
    assert.equal(existsSync(path.join(root, prefix)), false, "its folder is left on the datastore");
    assert.deepEqual(journalFiles(journals), []);
    await stack.refresh();
    assert.deepEqual((await stack.preview()).changeSummary, { same: 2 });
  });
});
