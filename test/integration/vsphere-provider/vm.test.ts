import assert from "node:assert/strict";
import { closeAllSessions, connect, getProperties, lookup, ManagedObjectNotFoundError, MoRef, runTask, text, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { readVm } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost, type ProviderCallError } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { hostOf, parentOf, powerOffEvents, sessions, specOf, waitFor } from "./helpers";
import { secondVcenter, type SecondVcenter } from "./second-vcenter";

type Props = Record<string, unknown>;

/**
 * The vSphere driver through Pulumi's real dynamic provider host against govmomi's simulator,
 * with the same unified VM spec that validates for KVM. Outcomes are read back over vim25.
 */
describe("vSphere driver through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let other: SecondVcenter;
  let vm: { id: string; outs: Props };
  let volume: { id: string; outs: Props };
  // ProviderHost.stop() waits for an exit that already happened when called twice.
  let hostStopped = false;
  const name = uniqueName("nc-pv");

  /** One VM description for every hypervisor: a datastore on vSphere is the pool, a portgroup the network. */
  const unified = (host: string): Props => ({
    host,
    name,
    cpu: { cores: 2 },
    memory: { sizeMiB: 1024, maxMiB: 4096 },
    disks: { vda: { pool: "LocalDS_0", sizeGiB: 1 } },
    nics: { net0: { network: "VM Network" } },
    firmware: { type: "uefi", secureBoot: true },
    cloudInit: { userData: "#cloud-config\nhostname: web\n", metaData: "instance-id: web-1\n" },
    labels: { team: "infra" },
    updatePolicy: { shutdownTimeoutSeconds: 5 },
  });

  before(async function () {
    this.timeout(300_000); // a fresh machine builds the simulator first
    const sim = vcsim();
    other = await secondVcenter();
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
    host = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({
        vc1: { ...vc, host: "DC0_C0_H0" },
        vc1b: { ...vc, host: "DC0_C0_H1" },
        vc1c: { ...vc, host: "DC0_C0_H2", datastore: "LocalDS_1" },
        vc2: { ...vc, url: other.url, caFile: other.caFile, host: "DC0_C0_H2" },
        kvm: { driver: "libvirt", uri: "qemu:///system" },
      }),
    });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    if (volume) await host.delete("Volume", volume.id, volume.outs).catch((e) => console.error(`cleanup: ${e}`));
    if (!hostStopped) await host?.stop();
    await other?.stop();
    await closeAllSessions();
  });

  it("the spec written for KVM validates unchanged for vSphere; per-vCPU pinning is refused with vSphere's reason", async () => {
    assert.deepEqual((await host.check("VirtualMachine", {}, unified("kvm"))).failures, []);
    assert.deepEqual((await host.check("VirtualMachine", {}, unified("vc1"))).failures, []);
    const pinned = { ...unified("vc1"), cpu: { cores: 2, pinning: { "0": "1" } } };
    const { failures } = await host.check("VirtualMachine", {}, pinned);
    assert.deepEqual(
      failures.map((f) => f.property),
      ["cpu.pinning"],
    );
    assert.match(failures[0]!.reason, /restricts all vCPUs of a VM to one host CPU set, so give each of the 2 vCPUs the same set, e.g. \{"0":"1","1":"1"\}/);
  });

  it("creates the VM on the pinned host: 2 cores, memory hot-add, a thin disk on the datastore, vmxnet3 on the portgroup, UEFI, cloud-init, running", async () => {
    const { inputs, failures } = await host.check("VirtualMachine", {}, unified("vc1"));
    assert.deepEqual(failures, []);
    vm = await host.create("VirtualMachine", inputs);
    assert.match(vm.id, /^vm-\d+$/);
    assert.equal(vm.outs.state, "running");
    const ref = new MoRef("VirtualMachine", vm.id);
    const state = await readVm(client, ref);
    assert.equal(state.powerState, "poweredOn");
    assert.equal(state.spec.numCPUs, 2);
    assert.equal(state.spec.numCoresPerSocket, 2);
    assert.equal(state.spec.memoryMB, 1024);
    assert.equal(state.spec.memoryHotAddEnabled, true);
    assert.equal(state.spec.cpuHotAddEnabled, false);
    assert.deepEqual(state.spec.disks, { vda: { sizeGiB: 1, provisioning: "thin" } });
    assert.equal(state.spec.nics.net0?.adapter, "vmxnet3");
    assert.equal(state.spec.nics.net0?.network.kind === "standard" && state.spec.nics.net0.network.name, "VM Network");
    assert.equal(state.spec.owner, name, "NovaCron's ownership mark is in extraConfig");
    assert.deepEqual(state.spec.labels, { team: "infra" });
    assert.deepEqual([state.spec.firmware, state.spec.secureBoot], ["efi", true]);
    assert.deepEqual(state.spec.cloudInit, { userData: "#cloud-config\nhostname: web\n", metaData: "instance-id: web-1\n" }, "guestinfo carries the seed");
    assert.equal(await hostOf(client, ref), "DC0_C0_H0");
    assert.match(String((vm.outs.macAddresses as Props).net0), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, "vCenter assigned the MAC");
  });

  it("read after create shows no difference, and a second create adopts the VM it finds marked as ours", async () => {
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(read.id, vm.id);
    const again = (await host.check("VirtualMachine", {}, unified("vc1"))).inputs;
    const diff = await host.diff("VirtualMachine", vm.id, read.props, again);
    assert.equal(diff.changes, false, `read-back differs: ${JSON.stringify(read.inputs)}`);
    const adopted = await host.create("VirtualMachine", again);
    assert.equal(adopted.id, vm.id);
  });

  it("an out-of-band label shows as drift on refresh and the next update removes it", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    await runTask(client, "ReconfigVM_Task", ref, { spec: { extraConfig: [{ key: "novacron.label.owner", value: { $type: "xsd:string", $value: "bob" } }] } });
    const drifted = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(drifted.inputs.labels, { team: "infra", owner: "bob" });
    const wanted = (await host.check("VirtualMachine", drifted.inputs, specOf(vm.outs))).inputs;
    assert.equal((await host.diff("VirtualMachine", vm.id, drifted.props, wanted)).changes, true);
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, drifted.props, wanted) };
    assert.deepEqual((await readVm(client, ref)).spec.labels, { team: "infra" });
  });

  it("hot-adds an e1000e NIC on a distributed portgroup, read back by the portgroup's name", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const old = specOf(vm.outs);
    const next = { ...old, nics: { ...(old.nics as Props), net1: { network: "DC0_DVPG0", model: "e1000e" } } };
    const { inputs } = await host.check("VirtualMachine", old, next);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["nics.net1: hotplug"],
    );
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, inputs) };
    const nic = (await readVm(client, ref)).spec.nics.net1;
    assert.deepEqual([nic?.adapter, nic?.network.kind], ["e1000e", "distributed"]);
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((read.inputs.nics as Record<string, Props>).net1!.network, "DC0_DVPG0");
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs)).changes, false);
  });

  it("grows memory with hot-add: an in-place update, the VM never powers off", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const offBefore = await powerOffEvents(client, ref);
    const old = specOf(vm.outs);
    const next = { ...old, memory: { ...(old.memory as Props), sizeMiB: 2048 } };
    const { inputs, failures } = await host.check("VirtualMachine", old, next);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["memory.sizeMiB: hotplug"],
    );
    assert.deepEqual(await host.diff("VirtualMachine", vm.id, vm.outs, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    const state = await readVm(client, ref);
    assert.equal(state.spec.memoryMB, 2048);
    assert.equal(state.powerState, "poweredOn");
    assert.equal(await powerOffEvents(client, ref), offBefore, "not power-cycled");
    assert.equal(outs.lastChangeClass, "hotplug");
    vm = { id: vm.id, outs };
  });

  it("a change vSphere makes only powered off is refused while reboots are forbidden", async () => {
    const old = specOf(vm.outs);
    const next = { ...old, memory: { sizeMiB: 1024 } }; // shrinking, and hot-add switched off
    const { inputs, failures } = await host.check("VirtualMachine", old, next);
    // Refused at preview already: the plan classifies the shrink as cold for vSphere…
    assert.ok(
      failures.some((f) => f.property === "memory.sizeMiB" && /allowReboot: true/.test(f.reason)),
      JSON.stringify(failures),
    );
    // …and the driver refuses it again if an engine applied it anyway.
    await assert.rejects(host.update("VirtualMachine", vm.id, vm.outs, inputs), /memory hot-add is switched while powered off.*allowReboot is false/);
    assert.equal((await readVm(client, new MoRef("VirtualMachine", vm.id))).spec.memoryMB, 2048, "nothing was applied");
  });

  it("with allowReboot the same change is applied by a power cycle, and the VM runs again", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const offBefore = await powerOffEvents(client, ref);
    const old = specOf(vm.outs);
    const policy = { allowReboot: true, shutdownTimeoutSeconds: 5 };
    const { inputs } = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 1536, maxMiB: 4096 }, updatePolicy: policy });
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, inputs) };
    assert.equal((await readVm(client, ref)).spec.memoryMB, 1536);
    assert.equal(await powerOffEvents(client, ref), offBefore + 1, "powered off once to shrink memory");
    assert.equal((await readVm(client, ref)).powerState, "poweredOn");
  });

  it("moving vc1 → vc1b is planned as a migration and vMotions the running VM", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const old = specOf(vm.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, host: "vc1b" });
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["host: migrate"],
    );
    assert.deepEqual(await host.diff("VirtualMachine", vm.id, vm.outs, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    assert.equal(await hostOf(client, ref), "DC0_C0_H1");
    assert.equal((await readVm(client, ref)).powerState, "poweredOn");
    const migration = outs.migration as { totalMs: number; fromHost: string; toHost: string };
    assert.ok(typeof migration.totalMs === "number" && migration.totalMs >= 0);
    assert.deepEqual([migration.fromHost, migration.toHost], ["DC0_C0_H0", "DC0_C0_H1"]);
    assert.equal(outs.lastChangeClass, "migrate");
    vm = { id: vm.id, outs };
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs)).changes, false);
  });

  it("an entry on another datastore of the same vCenter moves the storage too (storage vMotion)", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const old = specOf(vm.outs);
    const { inputs } = await host.check("VirtualMachine", old, { ...old, host: "vc1c" });
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    const ds1 = await lookup(client, "datastore", "LocalDS_1", DATACENTER);
    assert.deepEqual(
      (await readVm(client, ref)).datastores.map((d) => d.value),
      [ds1.value],
    );
    assert.equal(await hostOf(client, ref), "DC0_C0_H2");
    assert.deepEqual(outs.migration, { ...(outs.migration as Props), fromHost: "DC0_C0_H1", toHost: "DC0_C0_H2", storage: true });
    // Back to vc1b, the entry the later steps use.
    const back = await host.check("VirtualMachine", specOf(outs), { ...specOf(outs), host: "vc1b" });
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, outs, back.inputs) };
    assert.deepEqual(
      (await readVm(client, ref)).datastores.map((d) => d.value),
      [(await lookup(client, "datastore", "LocalDS_0", DATACENTER)).value],
    );
  });

  it("moving to another vCenter is refused clearly and the VM stays", async () => {
    const old = specOf(vm.outs);
    const { inputs } = await host.check("VirtualMachine", old, { ...old, host: "vc2" });
    await assert.rejects(host.update("VirtualMachine", vm.id, vm.outs, inputs), /"vc1b" \(.*\) and "vc2" \(.*\) are different vCenters; vMotion works within one vCenter/);
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", vm.id)), "DC0_C0_H1");
  });

  it("takes and removes a memory snapshot through the provider", async () => {
    const snap = await host.checkAndCreate("Snapshot", { host: "vc1b", vm: vm.id, name: "before-upgrade", memory: true, description: "pre" });
    assert.match(snap.id, /^snapshot-\d+$/);
    const tree = (await readVm(client, new MoRef("VirtualMachine", vm.id))).snapshots;
    assert.deepEqual(
      tree.map((s) => [s.ref.value, s.name, s.description]),
      [[snap.id, "before-upgrade", "pre"]],
    );
    const read = await host.read("Snapshot", snap.id, snap.outs);
    assert.equal(read.id, snap.id);
    await host.delete("Snapshot", snap.id, snap.outs);
    assert.deepEqual((await readVm(client, new MoRef("VirtualMachine", vm.id))).snapshots, []);
    await host.delete("Snapshot", snap.id, snap.outs); // already gone is fine
  });

  it("a quiesced snapshot whose create was not recorded is adopted by the next create, its VM being NovaCron's", async () => {
    const spec = { host: "vc1b", vm: vm.id, name: "nightly", quiesce: true };
    const first = await host.checkAndCreate("Snapshot", spec);
    const again = await host.checkAndCreate("Snapshot", spec);
    assert.equal(again.id, first.id);
    const tree = (await readVm(client, new MoRef("VirtualMachine", vm.id))).snapshots;
    assert.deepEqual(
      tree.map((s) => [s.name, s.quiesced]),
      [["nightly", true]],
    );
    await host.delete("Snapshot", first.id, first.outs);
  });

  it("pauses (suspends) and resumes the VM as power-state changes", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    for (const [wanted, vsphere] of [
      ["paused", "suspended"],
      ["running", "poweredOn"],
    ] as const) {
      const old = specOf(vm.outs);
      const { inputs } = await host.check("VirtualMachine", old, { ...old, powerState: wanted });
      vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, inputs) };
      assert.equal((await readVm(client, ref)).powerState, vsphere);
      assert.equal(vm.outs.state, wanted);
    }
  });

  it("a create that cannot finish (no IP in time) leaves the VM recorded, and the next create adopts it", async () => {
    const spec = { ...unified("vc1"), name: `${name}-ip`, waitForIp: { timeoutSeconds: 1 } };
    const { inputs } = await host.check("VirtualMachine", {}, spec);
    let failure: ProviderCallError | undefined;
    await host.create("VirtualMachine", inputs).catch((e: ProviderCallError) => (failure = e));
    assert.ok(failure?.initFailure, `expected a partial create, got ${String(failure)}`);
    assert.match(failure.initFailure.id, /^vm-\d+$/);
    assert.match(failure.message, /created but not finished: VMware Tools reported no IP address within 1s/);
    const recorded = failure.initFailure;
    const { waitForIp: _noWait, ...withoutWait } = spec;
    const { inputs: again } = await host.check("VirtualMachine", {}, withoutWait);
    const adopted = await host.create("VirtualMachine", again);
    assert.equal(adopted.id, recorded.id);
    await host.delete("VirtualMachine", adopted.id, adopted.outs);
  });

  it("makes a distributed portgroup with a VLAN, plugs a NIC into it, and deletes only its own portgroup", async () => {
    const pgName = `${name}-pg`;
    const pg = await host.checkAndCreate("Network", { host: "vc1b", name: pgName, mode: "bridge", bridge: "DVS0", vlan: 42 });
    const ref = await lookup(client, "network", pgName, DATACENTER);
    assert.equal(pg.id, `DistributedVirtualPortgroup:${ref.value}`);
    const vlan = (await getProperties(client, ref, ["config.defaultPortConfig"])).props.get("config.defaultPortConfig");
    assert.equal(
      text(
        vlan?.children.find((c) => c.name === "vlan"),
        "vlanId",
      ),
      "42",
    );
    const read = await host.read("Network", pg.id, pg.outs);
    assert.deepEqual([read.inputs.bridge, read.inputs.vlan], ["DVS0", 42]);
    const old = specOf(vm.outs);
    const { inputs } = await host.check("VirtualMachine", old, { ...old, nics: { ...(old.nics as Props), net2: { network: pgName } } });
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, inputs) };
    const net2 = (await readVm(client, new MoRef("VirtualMachine", vm.id))).spec.nics.net2;
    assert.equal(net2?.network.kind === "distributed" && net2.network.portgroupKey, ref.value);
    const detach = await host.check("VirtualMachine", specOf(vm.outs), old);
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, detach.inputs) };
    await host.delete("Network", pg.id, pg.outs);
    await assert.rejects(getProperties(client, ref, ["name"]), ManagedObjectNotFoundError);
  });

  it("makes a VMDK volume and attaches it by id while the VM runs; removing the slot detaches it, keeping the file", async () => {
    volume = await host.checkAndCreate("Volume", { host: "vc1b", pool: "LocalDS_0", name: `${name}-data`, sizeGiB: 2, format: "vmdk" });
    assert.equal(volume.id, `[LocalDS_0] novacron-volumes/${name}-data.vmdk`);
    const ref = new MoRef("VirtualMachine", vm.id);
    const old = specOf(vm.outs);
    const attach = async (disks: Props) => {
      const { inputs, failures } = await host.check("VirtualMachine", specOf(vm.outs), { ...old, disks });
      assert.deepEqual(failures, []);
      vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, inputs) };
      return inputs;
    };
    const inputs = await attach({ ...(old.disks as Props), vdb: { volume: volume.id } });
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["disks.vdb: hotplug"],
    );
    assert.equal((await readVm(client, ref)).diskFiles.vdb, volume.id);
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs)).changes, false);
    await attach(old.disks as Props);
    assert.equal((await readVm(client, ref)).diskFiles.vdb, undefined);
    assert.equal((await host.read("Volume", volume.id, volume.outs)).id, volume.id, "the detached file is still there");
    await attach({ ...(old.disks as Props), vdb: { volume: volume.id } });
  });

  it("delete shuts the guest down through VMware Tools, destroys the VM, and tolerates it being gone", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    // The testbed reports VMware Tools running for VMs carrying this option.
    await runTask(client, "ReconfigVM_Task", ref, { spec: { extraConfig: [{ key: "novacron.test.tools", value: { $type: "xsd:string", $value: "running" } }] } });
    await waitFor(async () => text((await getProperties(client, ref, ["guest.toolsRunningStatus"])).props.get("guest.toolsRunningStatus")) === "guestToolsRunning");
    const from = host.stderr.length;
    await host.delete("VirtualMachine", vm.id, vm.outs);
    assert.match(host.stderr.slice(from).join(""), /guest shut down/);
    await assert.rejects(getProperties(client, ref, ["name"]), ManagedObjectNotFoundError);
    await host.delete("VirtualMachine", vm.id, vm.outs);
    assert.equal((await host.read("VirtualMachine", vm.id, vm.outs)).id, "");
    vm = undefined as unknown as typeof vm; // deleted: nothing for after() to clean
    assert.equal((await host.read("Volume", volume.id, volume.outs)).id, volume.id, "an attached volume outlives its VM");
    await host.delete("Volume", volume.id, volume.outs);
    assert.equal((await host.read("Volume", volume.id, volume.outs)).id, "");
    volume = undefined as unknown as typeof volume;
  });

  it("every entry of one vCenter shares one session, logged out when the provider host stops", async () => {
    const mine = (await sessions(client)).filter((s) => parentOf(s.pid) === process.pid);
    // vc1, vc1b and the adopted-resource entries all ran through the same login; vc2 is another vCenter.
    assert.equal(mine.length, 1, JSON.stringify(mine));
    await host.stop();
    hostStopped = true;
    const left = (await sessions(client)).filter((s) => s.key === mine[0]!.key);
    assert.deepEqual(left, []);
  });
});
