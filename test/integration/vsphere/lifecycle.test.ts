import * as assert from "node:assert/strict";
import {
  closeAllSessions,
  connect,
  getProperties,
  lookup,
  moref,
  type MoRef,
  type VimClient,
  ManagedObjectNotFoundError,
  DuplicateNameError,
} from "../../../provider/drivers/vsphere/soap";
import {
  cloneVm,
  createSnapshot,
  createVm,
  destroyVm,
  findVm,
  getHostCapabilities,
  markAsTemplate,
  powerOff,
  powerOn,
  readVm,
  reconfigureVm,
  relocateVm,
  removeSnapshot,
  resolveNetwork,
  resolvePlacement,
  type NetworkBinding,
  type Placement,
  type VmSpec,
} from "../../../provider/drivers/vsphere/vm";
import { DATACENTER, uniqueName, vcsim } from "./testbed";

describe("vSphere VM lifecycle against vcsim", function () {
  this.timeout(60_000);
  let client: VimClient;
  let placement: Placement;
  let vmNet: NetworkBinding;
  let dvpg: NetworkBinding;
  const created: MoRef[] = [];

  before(async function () {
    this.timeout(300_000); // a fresh machine installs Go and builds the simulator first
    client = await connect(vcsim().options);
    placement = await resolvePlacement(client, {
      datacenter: DATACENTER,
      resourcePool: "DC0_C0",
      datastore: "LocalDS_0",
    });
    vmNet = await resolveNetwork(client, DATACENTER, "VM Network");
    dvpg = await resolveNetwork(client, DATACENTER, "DC0_DVPG0");
  });

  after(async () => {
    for (const vm of created) await destroyVm(client, vm).catch(() => undefined);
    await closeAllSessions();
  });

  function baseSpec(name: string): VmSpec {
    return {
      name,
      guestId: "ubuntu64Guest",
      numCPUs: 2,
      numCoresPerSocket: 1,
      memoryMB: 1024,
      cpuHotAddEnabled: true,
      memoryHotAddEnabled: true,
      memoryReservationMB: 512,
      scsiController: "pvscsi",
      disks: { root: { sizeGiB: 4, provisioning: "thin" }, data: { sizeGiB: 2, provisioning: "thick" } },
      nics: { net0: { network: vmNet, adapter: "vmxnet3" } },
      firmware: "efi",
      secureBoot: true,
      cloudInit: { userData: "#cloud-config\nhostname: web\n", metaData: "instance-id: web-1\n" },
    };
  }

  it("resolves inventory paths and reports a distributed portgroup with its switch", () => {
    assert.equal(placement.pool.type, "ResourcePool");
    assert.equal(placement.folder.type, "Folder");
    assert.equal(placement.datastore.type, "Datastore");
    assert.equal(vmNet.kind, "standard");
    assert.equal(dvpg.kind, "distributed");
    assert.ok(dvpg.kind === "distributed" && dvpg.switchUuid.length > 0 && dvpg.portgroupKey.length > 0);
  });

  it("creates, reconfigures, power-cycles, snapshots, vMotions, clones and destroys", async () => {
    const name = uniqueName("nc-life");
    const spec = baseSpec(name);
    const vm = await createVm(client, placement, spec);
    created.push(vm);

    // Reverse mapping: what we read back is what we asked for.
    let state = await readVm(client, vm);
    assert.equal(state.spec.name, name);
    assert.equal(state.spec.numCPUs, 2);
    assert.equal(state.spec.memoryMB, 1024);
    assert.equal(state.spec.cpuHotAddEnabled, true);
    assert.equal(state.spec.memoryReservationMB, 512);
    assert.equal(state.spec.firmware, "efi");
    assert.equal(state.spec.secureBoot, true);
    assert.deepEqual(state.spec.disks, {
      root: { sizeGiB: 4, provisioning: "thin" },
      data: { sizeGiB: 2, provisioning: "thick" },
    });
    assert.deepEqual(Object.keys(state.spec.nics), ["net0"]);
    assert.equal(state.spec.nics.net0?.network.kind, "standard");
    assert.equal(state.spec.cloudInit?.userData, spec.cloudInit?.userData);
    assert.equal(state.spec.cloudInit?.metaData, spec.cloudInit?.metaData);

    // Re-applying the same spec changes nothing (no perpetual diff).
    assert.equal(await reconfigureVm(client, vm, spec), false);

    // Reconfigure: CPU, memory, a new disk and a NIC on the distributed portgroup;
    // slots listed in another order must not touch existing disks.
    const grown: VmSpec = {
      ...spec,
      numCPUs: 4,
      memoryMB: 2048,
      disks: { logs: { sizeGiB: 1 }, data: { sizeGiB: 3, provisioning: "thick" }, root: { sizeGiB: 4, provisioning: "thin" } },
      nics: { ...spec.nics, net1: { network: dvpg, adapter: "e1000e" } },
    };
    const before = await getProperties(client, vm, ["config.hardware.device"]);
    assert.equal(await reconfigureVm(client, vm, grown), true);
    state = await readVm(client, vm);
    assert.equal(state.spec.numCPUs, 4);
    assert.equal(state.spec.memoryMB, 2048);
    assert.deepEqual(state.spec.disks, {
      root: { sizeGiB: 4, provisioning: "thin" },
      data: { sizeGiB: 3, provisioning: "thick" },
      logs: { sizeGiB: 1, provisioning: "thin" },
    });
    assert.equal(state.spec.nics.net1?.network.kind, "distributed");
    assert.equal(state.spec.nics.net1?.adapter, "e1000e");
    assert.ok(before.props.get("config.hardware.device"));
    assert.equal(await reconfigureVm(client, vm, grown), false);

    // Power off/on, read back through the property collector.
    await powerOn(client, vm);
    assert.equal((await readVm(client, vm)).powerState, "poweredOn");
    await powerOff(client, vm);
    assert.equal((await readVm(client, vm)).powerState, "poweredOff");
    await powerOn(client, vm);

    // Snapshot with memory, then remove it.
    const snap = await createSnapshot(client, vm, { name: "before-upgrade", memory: true, quiesce: false });
    state = await readVm(client, vm);
    assert.deepEqual(
      state.snapshots.map((s) => s.name),
      ["before-upgrade"],
    );
    assert.ok(state.snapshots[0]?.ref.equals(snap));
    await removeSnapshot(client, snap);
    assert.deepEqual((await readVm(client, vm)).snapshots, []);

    // vMotion the running VM to another host of the cluster.
    const from = moref((await getProperties(client, vm, ["runtime.host"])).props.get("runtime.host"));
    assert.ok(from);
    const hosts = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"];
    const targets = await Promise.all(hosts.map((h) => lookup(client, "host", `DC0_C0/${h}`, DATACENTER)));
    const target = targets.find((h) => !h.equals(from));
    assert.ok(target);
    const caps = await getHostCapabilities(client, target);
    assert.equal(caps.vMotionSupported, true);
    await relocateVm(client, vm, { host: target });
    const now = moref((await getProperties(client, vm, ["runtime.host"])).props.get("runtime.host"));
    assert.ok(now?.equals(target), `runtime.host is ${now?.value}, wanted ${target.value}`);
    assert.equal((await readVm(client, vm)).powerState, "poweredOn");

    // Storage vMotion to the second datastore.
    const ds1 = await lookup(client, "datastore", "LocalDS_1", DATACENTER);
    await powerOff(client, vm);
    await relocateVm(client, vm, { datastore: ds1 });
    // The simulator updates VirtualMachine.datastore but does not rewrite file paths.
    const dsNow = (await readVm(client, vm)).datastores;
    assert.deepEqual(
      dsNow.map((d) => d.value),
      [ds1.value],
    );

    // Destroy: running → powered off first, then gone.
    await powerOn(client, vm);
    assert.deepEqual(await destroyVm(client, vm), { existed: true, shutdown: "forced" });
    await assert.rejects(getProperties(client, vm, ["name"]), ManagedObjectNotFoundError);
    assert.equal(await findVm(client, placement.folder, name), undefined);
    assert.deepEqual(await destroyVm(client, vm), { existed: false });
  });

  it("clones a VM from a template", async () => {
    const tplName = uniqueName("nc-tpl");
    const tpl = await createVm(client, placement, { ...baseSpec(tplName), cloudInit: undefined });
    created.push(tpl);
    await markAsTemplate(client, tpl);
    assert.equal((await readVm(client, tpl)).template, true);

    const cloneName = uniqueName("nc-clone");
    const clone = await cloneVm(client, tpl, placement, cloneName, { powerOn: true });
    created.push(clone);
    const state = await readVm(client, clone);
    assert.equal(state.spec.name, cloneName);
    assert.equal(state.template, false);
    assert.equal(state.powerState, "poweredOn");
    assert.equal(state.spec.numCPUs, 2);
    // The simulator's clone drops extraConfig (vCenter copies it), so compare sizes, not slot names.
    assert.deepEqual(
      Object.values(state.spec.disks)
        .map((d) => d.sizeGiB)
        .sort(),
      [2, 4],
    );
    assert.ok(!clone.equals(tpl));
    // Applying what refresh read back is a no-op, even for disks we did not create.
    assert.equal(await reconfigureVm(client, clone, state.spec), false);
    assert.deepEqual(await destroyVm(client, clone), { existed: true, shutdown: "forced" });
  });

  it("refuses a name that exists already with DuplicateNameError", async () => {
    const name = uniqueName("nc-dup");
    const vm = await createVm(client, placement, { ...baseSpec(name), disks: {}, nics: {} });
    created.push(vm);
    await assert.rejects(createVm(client, placement, { ...baseSpec(name), disks: {}, nics: {} }), (err: unknown) => {
      assert.ok(err instanceof DuplicateNameError);
      assert.match(err.message, new RegExp(`DuplicateName: a VM named "${name}" already exists`));
      return true;
    });
  });
});
