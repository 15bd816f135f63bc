import assert from "node:assert/strict";
import { existsSync } from "node:fs";
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
  libvirtEvents,
  libvirtVolumeSha,
  makePool,
  poweredOnAt,
  uploadPattern,
  URI,
  vcVm,
  vmdkExtents,
  vmdkSha,
} from "../support/cross-move";
import { EngineLog, exampleStack, useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";

const SIZES = { vda: 64 * 1048576, vdb: 32 * 1048576 };

/**
 * The acceptance test: a VM with two disks moves KVM → vSphere → KVM as ordinary
 * `pulumi up` updates through the real engine. The preview shows the cross-hypervisor class;
 * the guest-visible bytes of both disks are the same at the end as before; the source is
 * removed only after the target runs; a refresh and a second preview change nothing.
 */
describe("e2e: a VM moves KVM → vSphere → KVM through the real engine, disks and all", function () {
  this.timeout(1_200_000);
  const prefix = uniquePrefix("xm");
  let stack: Stack;
  let vim: VimClient;
  let root: string;
  const patterns: Record<string, string> = {};

  before(async function () {
    this.timeout(600_000);
    testbed("libvirt.sh");
    vcsim();
    useRealEngine();
    makePool(prefix);
    vim = new VimClient(vcsim().options);
    await vim.connect();
    root = await datastoreRoot(DATASTORE);
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/cross-mover"), prefix, {
      "novacron:hosts": { value: crossMoverHosts(), secret: true },
      "xmove:host": "kvm",
      "xmove:name": prefix,
      "xmove:pool": prefix,
      "xmove:power": "stopped",
    });
  });

  after(async () => {
    await stack?.cancel().catch(() => undefined);
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
    dropPool(prefix);
    await vim?.logout().catch(() => undefined);
  });

  it("up makes the VM on KVM; the test writes a known pattern into both disks and starts it", async () => {
    await stack.up();
    for (const [slot, bytes] of Object.entries(SIZES)) patterns[slot] = uploadPattern(URI, prefix, blankDiskName(prefix, slot), bytes, `${prefix}-${slot}`);
    await stack.setConfig("xmove:power", { value: "running" });
    const result = await stack.up();
    assert.equal(result.outputs.state.value, "running");
    assert.match(virsh(URI, "domstate", prefix), /running/);
    for (const slot of Object.keys(SIZES)) assert.equal(libvirtVolumeSha(URI, prefix, blankDiskName(prefix, slot)), patterns[slot], `the pattern in ${slot}`);
  });

  it("the preview of host kvm → vc shows a cold cross-hypervisor migrate, not a replace", async () => {
    await stack.setConfig("xmove:host", { value: "vc" });
    await stack.setConfig("xmove:pool", { value: DATASTORE });
    const log = new EngineLog();
    const preview = await stack.preview({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.equal(log.op("xm"), "update", log.all());
    assert.equal(preview.changeSummary.replace, undefined);
    const planned = ((log.newInputs("xm")?.plannedChanges as string[] | undefined) ?? []).find((l) => l.startsWith("host:")) ?? "";
    assert.match(planned, /^host: migrate \(cold, cross-hypervisor, shutdown on the source, start on the target, 0\.09375 GiB of disks copied \(2 disks\)/);
  });

  it("up moves it to vSphere: the target runs before the source goes, with the same bytes on both disks", async () => {
    const log = new EngineLog();
    const sourceEvents = libvirtEvents(URI, prefix);
    await new Promise((r) => setTimeout(r, 1000)); // virsh has subscribed
    const result = await stack.up({ onEvent: log.onEvent, onOutput: log.onOutput });
    const events = await sourceEvents.stop();
    assert.equal(result.outputs.host.value, "vc");
    assert.equal(result.outputs.state.value, "running");
    assert.equal(result.outputs.lastChangeClass.value, "migrate");
    const onVc = await vcVm(vim, prefix);
    assert.equal(onVc?.power, "poweredOn");
    // An update cannot change a resource's id: the VM is addressed by hostId until a refresh.
    assert.equal(result.outputs.hostId.value, onVc?.id);
    // The source domain and its volumes are gone.
    assert.equal(virshMaybe(URI, "domstate", prefix), undefined);
    for (const slot of Object.keys(SIZES)) assert.equal(virshMaybe(URI, "vol-info", "--pool", prefix, blankDiskName(prefix, slot)), undefined, `${slot} left on KVM`);
    // The target's disks, read from vcsim's datastore directory, hold the pattern.
    for (const slot of Object.keys(SIZES)) {
      const file = `${prefix}/${prefix}-${slot}.vmdk`;
      assert.equal(vmdkSha(root, file), patterns[slot], `${slot} on the datastore (${vmdkExtents(root, file)})`);
    }
    // Order, by the hypervisors' own clocks (one machine): vCenter's power-on event of the target
    // before libvirtd's undefine event of the source; and as the move reported it.
    const undefinedAt = events.find((e) => /Undefined/.test(e.text))?.at;
    const [ranAt] = await poweredOnAt(vim, onVc?.id ?? "");
    assert.ok(undefinedAt !== undefined && ranAt !== undefined, JSON.stringify({ events, ranAt }));
    assert.ok(ranAt <= undefinedAt, `the source was undefined at ${new Date(undefinedAt).toISOString()}, before the target ran at ${new Date(ranAt).toISOString()}`);
    const lines = log.all();
    const ran = lines.indexOf(`the VM runs on "vc"`);
    const removed = lines.indexOf(`removing the source VM and its disks from "kvm"`);
    assert.ok(lines.indexOf("shutting the guest down") >= 0, lines);
    assert.ok(ran > 0 && removed > ran, lines);
    assert.match(lines, /disks\.vda: guest-visible bytes identical on both hosts/);
  });

  it("a second up changes nothing; a refresh records the VM on vSphere and the next preview changes nothing", async () => {
    const second = await stack.up();
    assert.deepEqual(second.summary.resourceChanges, { same: 2 });
    await stack.refresh();
    const preview = await stack.preview();
    assert.deepEqual(preview.changeSummary, { same: 2 });
    // The refresh made the host's id the resource id (stack outputs keep the last up's values).
    const state = (await stack.exportStack()).deployment as { resources: { type: string; id?: string; outputs?: Record<string, unknown> }[] };
    const vms = state.resources.filter((r) => r.type.endsWith(":VirtualMachine"));
    assert.equal(vms.length, 1);
    assert.equal(vms[0].outputs?.host, "vc");
    assert.equal(vms[0].id, (await vcVm(vim, prefix))?.id);
    assert.equal(vms[0].outputs?.hostId, vms[0].id);
  });

  it("up moves it back to KVM: the bytes are still the pattern, vSphere holds nothing of it", async () => {
    await stack.setConfig("xmove:host", { value: "kvm" });
    await stack.setConfig("xmove:pool", { value: prefix });
    const result = await stack.up();
    assert.equal(result.outputs.host.value, "kvm");
    assert.match(virsh(URI, "domstate", prefix), /running/);
    assert.equal(result.outputs.hostId.value, virsh(URI, "domuuid", prefix).trim());
    for (const slot of Object.keys(SIZES)) assert.equal(libvirtVolumeSha(URI, prefix, blankDiskName(prefix, slot)), patterns[slot], `${slot} back on KVM`);
    assert.equal(await vcVm(vim, prefix), undefined, "the VM is left on vSphere");
    assert.equal(existsSync(path.join(root, prefix)), false, "the VM's folder is left on the datastore");
    await stack.refresh();
    assert.deepEqual((await stack.preview()).changeSummary, { same: 2 });
  });
});
