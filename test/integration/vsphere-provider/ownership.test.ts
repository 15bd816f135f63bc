import assert from "node:assert/strict";
import { closeAllDrivers } from "../../../provider/drivers/registry";
import { closeAllSessions, connect, MoRef, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { createSnapshot, readVm } from "../../../provider/drivers/vsphere/vm";
import * as runtime from "../../support/engine-runtime";
import type { ResourceKind } from "../../../provider/core/model";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { hostOf } from "./helpers";
import { useHosts } from "../../support/hosts";

type Props = Record<string, unknown>;

/**
 * Issue 14 on VMware's simulator: an administrator's snapshot is never taken for ours (not
 * even on a VM NovaCron made), an adopted one survives destroy, and a Snapshot follows its
 * VM's vMotion as a record update, keeping the same point in time.
 */
describe("vSphere ownership marks and snapshots that follow their VM (vcsim)", function () {
  this.timeout(300_000);
  let client: VimClient;
  const name = uniqueName("nc-own");
  let vm: { id: string; outs: Props } | undefined;

  before(async () => {
    const sim = vcsim();
    const vc = {
      driver: "vsphere",
      url: sim.url,
      username: sim.username,
      password: sim.password,
      datacenter: DATACENTER,
      cluster: "DC0_C0",
      caFile: sim.caFile,
      datastore: "LocalDS_0",
    };
    await useHosts({ vc1: { ...vc, host: "DC0_C0_H0" }, vc1b: { ...vc, host: "DC0_C0_H1" } });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await runtime.remove("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await closeAllDrivers();
    await closeAllSessions();
    delete process.env.NOVACRON_HOSTS;
  });

  async function checked(kind: ResourceKind, olds: Props, news: Props): Promise<Props> {
    const result = await runtime.check(kind, olds, news);
    assert.deepEqual(result.failures, [], JSON.stringify(result.failures));
    return result.inputs as Props;
  }

  const snapshotNames = async () => (await readVm(client, new MoRef("VirtualMachine", vm!.id))).snapshots.map((s) => s.name);

  it("an administrator's snapshot on a NovaCron VM is refused, and adopted it survives destroy", async () => {
    const made = await runtime.create("VirtualMachine", await checked("VirtualMachine", {}, { host: "vc1", name, memory: { sizeMiB: 64 }, powerState: "stopped" }));
    vm = { id: made.id!, outs: made.outs as Props };
    await createSnapshot(client, new MoRef("VirtualMachine", vm.id), { name: "keep-me", description: "the admin's", memory: false, quiesce: false });
    const spec = await checked("Snapshot", {}, { host: "vc1", vm: vm.id, name: "keep-me" });
    await assert.rejects(runtime.create("Snapshot", spec), /Snapshot "keep-me" of VM .* no NovaCron ownership mark.*adopt: true/);
    const adopted = await runtime.create("Snapshot", await checked("Snapshot", {}, { host: "vc1", vm: vm.id, name: "keep-me", description: "the admin's", adopt: true }));
    await runtime.remove("Snapshot", adopted.id!, adopted.outs as Props);
    assert.ok((await snapshotNames()).includes("keep-me"));
  });

  it("our own snapshot is recognised by its mark after an interrupted create, follows a vMotion without a retake, and goes on destroy", async () => {
    const spec = await checked("Snapshot", {}, { host: "vc1", vm: vm!.id, name: "before-upgrade" });
    const snap = await runtime.create("Snapshot", spec);
    const again = await runtime.create("Snapshot", spec);
    assert.equal(again.id, snap.id, "converged, not a second snapshot");

    const movedVm = await checked("VirtualMachine", vm!.outs, { host: "vc1b", name, memory: { sizeMiB: 64 }, powerState: "stopped" });
    const vmOuts = (await runtime.update("VirtualMachine", vm!.id, vm!.outs, movedVm)).outs as Props;
    vm = { id: vm!.id, outs: vmOuts };
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", vm.id)), "DC0_C0_H1");

    const movedSnap = await checked("Snapshot", snap.outs as Props, { ...spec, host: "vc1b" });
    assert.deepEqual((await runtime.diff("Snapshot", snap.id!, snap.outs as Props, movedSnap)).replaces, []);
    const outs = (await runtime.update("Snapshot", snap.id!, snap.outs as Props, movedSnap)).outs as Props;
    assert.equal(outs.host, "vc1b");
    const after = (await readVm(client, new MoRef("VirtualMachine", vm.id))).snapshots.find((s) => s.name === "before-upgrade");
    assert.equal(after?.ref.value, snap.id, "the same snapshot, not a retake");

    await runtime.remove("Snapshot", snap.id!, outs);
    assert.ok(!(await snapshotNames()).includes("before-upgrade"));
  });
});
