import assert from "node:assert/strict";
import { diff } from "../../../provider/dynamic/runtime";
import { HOSTS } from "./fixtures";
import { useHosts } from "../../support/hosts";

/** Issue 14: a Snapshot whose host changes because its VM moved is a record update, never a retake. */
describe("a Snapshot follows its VM", () => {
  const snapshot = {
    host: "kvm1",
    vm: "8d0c1e8e-1111-4c2a-9d55-0123456789ab",
    name: "before-upgrade",
    memory: false,
    quiesce: false,
    description: "",
    adopt: false,
    deleteOnDestroy: false,
  };
  before(async () => {
    await useHosts({ ...HOSTS, vc2: { ...HOSTS.vc1 } });
  });
  after(() => {
    delete process.env.NOVACRON_HOSTS;
  });

  it("a host change between libvirt hosts with the same VM is a change, not a replace", async () => {
    const result = await diff("Snapshot", "id", { ...snapshot, state: "shutoff" }, { ...snapshot, host: "kvm2" });
    assert.equal(result.changes, true);
    assert.deepEqual(result.replaces, []);
    assert.equal(result.deleteBeforeReplace, false);
  });

  it("a host change between two entries of one vCenter (vMotion) is a change, not a replace", async () => {
    const result = await diff("Snapshot", "id", { ...snapshot, host: "vc1", vm: "vm-42" }, { ...snapshot, host: "vc2", vm: "vm-42" });
    assert.deepEqual(result.replaces, []);
  });

  it("a VM recreated on another kind of hypervisor takes a new snapshot (replace)", async () => {
    const result = await diff("Snapshot", "id", { ...snapshot }, { ...snapshot, host: "vc1", vm: "vm-42" });
    assert.deepEqual([...(result.replaces ?? [])].sort(), ["host", "vm"]);
  });

  it("a Volume's host change on the same kind of hypervisor is a record update, never an empty remake", async () => {
    const volume = { host: "kvm1", pool: "images", name: "data.qcow2", sizeGiB: 10, format: "qcow2", adopt: false, deleteOnDestroy: false, labels: {} };
    const result = await diff("Volume", "/images/data.qcow2", { ...volume, path: "/images/data.qcow2" }, { ...volume, host: "kvm2" });
    assert.equal(result.changes, true);
    assert.deepEqual(result.replaces, []);
    assert.deepEqual((await diff("Volume", "x", volume, { ...volume, host: "vc1" })).replaces, ["host"]);
  });
});
