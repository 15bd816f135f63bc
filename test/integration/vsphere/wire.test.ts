import * as assert from "node:assert/strict";
import {
  closeAllSessions,
  connect,
  DuplicateNameError,
  getProperties,
  InvalidArgumentError,
  InvalidPowerStateError,
  InvalidStateError,
  InventoryNotFoundError,
  lookup,
  NotSupportedError,
  runTask,
  type MoRef,
  type TaskProgress,
  type VimClient,
} from "../../../provider/drivers/vsphere/soap";
import {
  createVm,
  destroyVm,
  getHostCapabilities,
  markAsTemplate,
  powerOn,
  readVm,
  reconfigureVm,
  resolveNetwork,
  resolvePlacement,
  shutdownGuest,
  UnsupportedChangeError,
  type Placement,
  type VmSpec,
} from "../../../provider/drivers/vsphere/vm";
import { DATACENTER, uniqueName, vcsim } from "./testbed";

describe("vSphere wire details against vcsim", function () {
  this.timeout(60_000);
  let client: VimClient;
  let placement: Placement;
  const created: MoRef[] = [];

  before(async function () {
    this.timeout(300_000); // a fresh machine installs Go and builds the simulator first
    client = await connect(vcsim().options);
    placement = await resolvePlacement(client, { datacenter: DATACENTER, resourcePool: "DC0_C0", datastore: "LocalDS_0" });
  });
  after(async () => {
    for (const vm of created) await destroyVm(client, vm).catch(() => undefined);
    await closeAllSessions();
  });

  async function newVm(extra: Partial<VmSpec> = {}): Promise<MoRef> {
    const vm = await createVm(client, placement, { name: uniqueName("nc-wire"), numCPUs: 1, memoryMB: 128, disks: {}, nics: {}, ...extra });
    created.push(vm);
    return vm;
  }

  it("round-trips markup characters and non-ASCII text unchanged", async () => {
    const annotation = `a<b>&c "quoted" 'single' ]]> tab\there\nline2 — ünïcødé 🚀 &amp;`;
    const vm = await newVm({ annotation });
    assert.equal((await readVm(client, vm)).spec.annotation, annotation);
    await assert.rejects(newVm({ annotation: "bell\u0007" }), /control characters/);
  });

  it("parses server faults into typed errors with their details", async () => {
    // DuplicateName straight from the server (not our pre-check), with its fields.
    const vmFolder = placement.folder;
    const folderName = uniqueName("nc-folder");
    const folder = await client.invokeRef("CreateFolder", vmFolder, { name: folderName });
    await assert.rejects(client.invoke("CreateFolder", vmFolder, { name: folderName }), (err: unknown) => {
      assert.ok(err instanceof DuplicateNameError);
      assert.equal(err.duplicateName, folderName);
      assert.ok(err.existing?.equals(vmFolder));
      return true;
    });
    await runTask(client, "Destroy_Task", folder, {});

    // A task error; the simulator validates guest ids on reconfigure only.
    const odd = await newVm();
    const oddSpec = (await readVm(client, odd)).spec;
    await assert.rejects(reconfigureVm(client, odd, { ...oddSpec, guestId: "noSuchGuest" }), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.equal(err.invalidProperty, "configSpec.guestId");
      return true;
    });

    const vm = await newVm();
    await powerOn(client, vm);
    // A direct SOAP fault…
    await assert.rejects(markAsTemplate(client, vm), (err: unknown) => {
      assert.ok(err instanceof InvalidPowerStateError);
      assert.ok(err instanceof InvalidStateError, "subtypes stay catchable as their parent");
      assert.equal(err.existingState, "poweredOn");
      return true;
    });
    // …and the same fault type arriving as a task error.
    await assert.rejects(runTask(client, "PowerOnVM_Task", vm, {}), (err: unknown) => {
      assert.ok(err instanceof InvalidPowerStateError);
      assert.equal(err.existingState, "poweredOn");
      return true;
    });
    await runTask(client, "PowerOffVM_Task", vm, {});
    await markAsTemplate(client, vm);
    await assert.rejects(markAsTemplate(client, vm), NotSupportedError);
  });

  it("creates an LSI Logic SAS controller with an eager-zeroed thick disk, and reads them back", async () => {
    const vm = await newVm({ scsiController: "lsilogic-sas", disks: { db: { sizeGiB: 1, provisioning: "eagerZeroedThick" } } });
    const { spec } = await readVm(client, vm);
    assert.equal(spec.scsiController, "lsilogic-sas");
    assert.deepEqual(spec.disks, { db: { sizeGiB: 1, provisioning: "eagerZeroedThick" } });
  });

  it("shuts a guest down without VMware Tools by powering off, and is a no-op when already off", async () => {
    const vm = await newVm();
    await powerOn(client, vm);
    assert.equal(await shutdownGuest(client, vm), "forced");
    assert.equal((await readVm(client, vm)).powerState, "poweredOff");
    assert.equal(await shutdownGuest(client, vm), "already");
  });

  it("shuts a guest with running VMware Tools down through the guest, also on destroy", async () => {
    const vm = await newVm();
    // The testbed's simulated tools (testbeds/vcsim/tools.go) answer for VMs carrying this option.
    await runTask(client, "ReconfigVM_Task", vm, {
      spec: { extraConfig: [{ key: "novacron.test.tools", value: { $type: "xsd:string", $value: "running" } }] },
    });
    const toolsUp = async () => {
      for (let i = 0; i < 100 && !(await readVm(client, vm)).toolsRunning; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await readVm(client, vm)).toolsRunning, true);
    };
    await powerOn(client, vm);
    await toolsUp();
    assert.equal(await shutdownGuest(client, vm), "guest");
    assert.equal((await readVm(client, vm)).powerState, "poweredOff");
    await powerOn(client, vm);
    await toolsUp();
    assert.deepEqual(await destroyVm(client, vm), { existed: true, shutdown: "guest" });
  });

  it("reports task progress to the caller", async () => {
    const vm = await newVm();
    const seen: TaskProgress[] = [];
    await runTask(client, "PowerOnVM_Task", vm, {}, { onProgress: (p) => seen.push(p) });
    assert.equal(seen.at(-1)?.state, "success");
    assert.equal(seen.at(-1)?.task.type, "Task");
  });

  it("removes devices whose slots disappear, and refuses to shrink a disk", async () => {
    const net = await resolveNetwork(client, DATACENTER, "VM Network");
    const spec: VmSpec = {
      name: uniqueName("nc-slots"),
      numCPUs: 1,
      memoryMB: 256,
      disks: { a: { sizeGiB: 1 }, b: { sizeGiB: 2 } },
      nics: { n0: { network: net }, n1: { network: net, adapter: "e1000e" } },
    };
    const vm = await createVm(client, placement, spec);
    created.push(vm);
    const before = await readVm(client, vm);
    assert.deepEqual(Object.keys(before.spec.nics).sort(), ["n0", "n1"]);
    assert.ok(before.macAddresses.n0, "the server assigned a MAC");

    assert.equal(await reconfigureVm(client, vm, { ...spec, disks: { b: { sizeGiB: 2 } }, nics: { n1: spec.nics.n1! } }), true);
    const after = await readVm(client, vm);
    assert.deepEqual(after.spec.disks, { b: { sizeGiB: 2, provisioning: "thin" } });
    assert.deepEqual(Object.keys(after.spec.nics), ["n1"]);
    assert.equal(after.macAddresses.n1, before.macAddresses.n1, "the kept NIC is the same device");

    await assert.rejects(reconfigureVm(client, vm, { ...spec, disks: { b: { sizeGiB: 1 } }, nics: {} }), UnsupportedChangeError);
  });

  it("looks up every inventory kind and rejects a path of the wrong kind", async () => {
    const found = await Promise.all([
      lookup(client, "datacenter", DATACENTER),
      lookup(client, "cluster", "DC0_C0", DATACENTER),
      lookup(client, "host", "DC0_H0", DATACENTER), // standalone: resolved through its ComputeResource
      lookup(client, "resourcePool", "DC0_C0/Resources", DATACENTER),
      lookup(client, "folder", "", DATACENTER),
      lookup(client, "datastore", "LocalDS_1", DATACENTER),
      lookup(client, "network", "DC0_DVPG0", DATACENTER),
      lookup(client, "host", "/DC0/host/DC0_C0/DC0_C0_H2"),
    ]);
    assert.deepEqual(
      found.map((r) => r.type),
      ["Datacenter", "ClusterComputeResource", "HostSystem", "ResourcePool", "Folder", "Datastore", "DistributedVirtualPortgroup", "HostSystem"],
    );
    const name = await getProperties(client, found[2]!, ["name"]);
    assert.equal(name.props.get("name")?.text, "DC0_H0");
    await assert.rejects(lookup(client, "cluster", "DC0_H0", DATACENTER), (err: unknown) => {
      assert.ok(err instanceof InventoryNotFoundError);
      assert.match(err.message, /it is a ComputeResource/);
      return true;
    });
    await assert.rejects(lookup(client, "datastore", "nope", DATACENTER), InventoryNotFoundError);
  });

  it("reads host capabilities", async () => {
    const host = await lookup(client, "host", "DC0_H0", DATACENTER);
    const caps = await getHostCapabilities(client, host);
    assert.equal(caps.name, "DC0_H0");
    assert.equal(caps.vMotionSupported, true);
    assert.equal(caps.storageVMotionSupported, true);
    assert.equal(caps.maxSupportedVcpus, 768);
    assert.equal(caps.connectionState, "connected");
    assert.equal(caps.inMaintenanceMode, false);
  });
});
