import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { closeAllDrivers } from "../../../provider/drivers/registry";
import * as runtime from "../../support/engine-runtime";
import type { ResourceKind } from "../../../provider/core/model";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";
import { useHosts } from "../../support/hosts";

const SOURCE = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";
type Props = Record<string, unknown>;

/**
 * Issue 14: moving a VM must not lose its snapshots, and the Snapshot resource only follows.
 * A stopped VM with a qcow2 disk on storage both daemons see (the peer shares
 * /var/lib/novacron-test) and one snapshot moves kvm1 → kvm2; the snapshot record is on kvm2
 * afterwards, the same point in time (creation time unchanged), and the Snapshot's update to
 * the new host retakes nothing.
 */
describe("libvirt: a VM's move carries its snapshots, and its volumes follow (kvm1 → kvm2)", function () {
  this.timeout(180_000);
  const prefix = uniquePrefix("snapmv");
  const dir = `/var/lib/novacron-test/${prefix}`;
  const vmName = `${prefix}-vm`;

  before(async () => {
    testbed("libvirt.sh");
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    await useHosts({
      kvm1: { driver: "libvirt", uri: SOURCE, peerUri: "qemu+tcp://10.213.0.1/system", migrationUri: "tcp://10.213.0.1" },
      kvm2: { driver: "libvirt", uri: PEER, migrationUri: "tcp://10.213.0.2" },
    });
    mkdirSync(dir, { recursive: true });
    virsh(SOURCE, "pool-create-as", `${prefix}-pool`, "dir", "--target", dir);
    virsh(SOURCE, "vol-create-as", `${prefix}-pool`, "root.qcow2", "16M", "--format", "qcow2");
    // The same directory as a pool on the peer: shared storage, as a migration needs.
    virsh(PEER, "pool-create-as", `${prefix}-pool`, "dir", "--target", dir);
    mkdirSync(`${dir}-local`, { recursive: true });
    virsh(SOURCE, "pool-create-as", `${prefix}-local`, "dir", "--target", `${dir}-local`);
  });

  after(async () => {
    for (const uri of [SOURCE, PEER]) virshMaybe(uri, "undefine", vmName, "--snapshots-metadata");
    for (const uri of [SOURCE, PEER]) virshMaybe(uri, "pool-destroy", `${prefix}-pool`);
    virshMaybe(SOURCE, "pool-destroy", `${prefix}-local`);
    await closeAllDrivers();
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-local`, { recursive: true, force: true });
    delete process.env.NOVACRON_HOSTS;
  });

  async function checked(kind: ResourceKind, olds: Props, news: Props): Promise<Props> {
    const result = await runtime.check(kind, olds, news);
    assert.deepEqual(result.failures, [], JSON.stringify(result.failures));
    return result.inputs as Props;
  }

  it("the snapshot record moves with the stopped VM and the Snapshot resource is updated, not replaced", async () => {
    const vmSpec = await checked(
      "VirtualMachine",
      {},
      {
        host: "kvm1",
        name: vmName,
        machine: "pc",
        cpu: { cores: 1 },
        memory: { sizeMiB: 64 },
        disks: { vda: { volume: `${dir}/root.qcow2` } },
        powerState: "stopped",
      },
    );
    const vm = await runtime.create("VirtualMachine", vmSpec);
    const snapSpec = await checked("Snapshot", {}, { host: "kvm1", vm: vm.id, name: "before-upgrade", description: "point in time" });
    const snap = await runtime.create("Snapshot", snapSpec);
    const takenAt = /<creationTime>(\d+)<\/creationTime>/.exec(virsh(SOURCE, "snapshot-dumpxml", vmName, "before-upgrade"))?.[1];
    assert.ok(takenAt);

    const movedVm = await checked("VirtualMachine", vm.outs as Props, { ...vmSpec, host: "kvm2", plannedChanges: undefined });
    const vmOuts = (await runtime.update("VirtualMachine", vm.id!, vm.outs as Props, movedVm)).outs as Props;
    assert.equal(virshMaybe(SOURCE, "dominfo", vmName), undefined);
    assert.match(virsh(PEER, "snapshot-list", vmName, "--name"), /before-upgrade/);

    const movedSnap = await checked("Snapshot", snap.outs as Props, { ...snapSpec, host: "kvm2" });
    const planned = await runtime.diff("Snapshot", snap.id!, snap.outs as Props, movedSnap);
    assert.deepEqual(planned.replaces, []);
    const outs = (await runtime.update("Snapshot", snap.id!, snap.outs as Props, movedSnap)).outs as Props;
    assert.equal(outs.host, "kvm2");
    const after = virsh(PEER, "snapshot-dumpxml", vmName, "before-upgrade");
    assert.equal(/<creationTime>(\d+)<\/creationTime>/.exec(after)?.[1], takenAt, "the same point in time, not a retake");
    assert.match(after, /xmlns\/snapshot\/1/, "still carries NovaCron's mark");

    // The VM's disk as a Volume resource whose host follows the VM's: used from kvm2, never remade.
    virsh(PEER, "pool-refresh", `${prefix}-pool`);
    const volSpec = await checked("Volume", {}, { host: "kvm1", pool: `${prefix}-pool`, name: "data.qcow2", sizeGiB: 1 });
    const vol = await runtime.create("Volume", volSpec);
    virsh(PEER, "pool-refresh", `${prefix}-pool`);
    const movedVol = await checked("Volume", vol.outs as Props, { ...volSpec, host: "kvm2" });
    assert.deepEqual((await runtime.diff("Volume", vol.id!, vol.outs as Props, movedVol)).replaces, []);
    const volOuts = (await runtime.update("Volume", vol.id!, vol.outs as Props, movedVol)).outs as Props;
    assert.equal(volOuts.host, "kvm2");
    assert.match(virsh(PEER, "vol-list", `${prefix}-pool`), /data\.qcow2/);
    await runtime.remove("Volume", vol.id!, volOuts);
    // A volume on storage the other host cannot reach is refused clearly, and stays.
    const localSpec = await checked("Volume", {}, { host: "kvm1", pool: `${prefix}-local`, name: "local.qcow2", sizeGiB: 1 });
    const local = await runtime.create("Volume", localSpec);
    const movedLocal = await checked("Volume", local.outs as Props, { ...localSpec, host: "kvm2" });
    await assert.rejects(runtime.update("Volume", local.id!, local.outs as Props, movedLocal), /host: Volume "local\.qcow2" .* is not on host "kvm2"/);
    assert.match(virsh(SOURCE, "vol-list", `${prefix}-local`), /local\.qcow2/);
    await runtime.remove("Volume", local.id!, local.outs as Props);

    await runtime.remove("Snapshot", snap.id!, outs);
    assert.doesNotMatch(virsh(PEER, "snapshot-list", vmName, "--name"), /before-upgrade/);
    await runtime.remove("VirtualMachine", vm.id!, vmOuts);
  });

  it("a running VM's snapshot records are set aside for a live migration and restored when it fails", async () => {
    // The testbed has no network file system, and libvirt refuses a live migration of a disk
    // it cannot prove shared: exactly the failure after which the records must be back.
    const name = `${prefix}-live`;
    virsh(SOURCE, "vol-create-as", `${prefix}-pool`, "live.qcow2", "16M", "--format", "qcow2");
    const vmSpec = await checked(
      "VirtualMachine",
      {},
      {
        host: "kvm1",
        name,
        machine: "pc",
        cpu: { cores: 1 },
        memory: { sizeMiB: 64 },
        // No bootable content: the firmware idles, which is all a snapshot and a migration need.
        disks: { vda: { volume: `${dir}/live.qcow2` } },
        powerState: "running",
        updatePolicy: { shutdownTimeoutSeconds: 0 },
      },
    );
    const vm = await runtime.create("VirtualMachine", vmSpec);
    try {
      const snap = await runtime.create("Snapshot", await checked("Snapshot", {}, { host: "kvm1", vm: vm.id, name: "live-point", memory: true }));
      const before = virsh(SOURCE, "snapshot-dumpxml", name, "live-point");
      const moved = await checked("VirtualMachine", vm.outs as Props, { ...vmSpec, host: "kvm2" });
      await assert.rejects(runtime.update("VirtualMachine", vm.id!, vm.outs as Props, moved), /live migration .* failed; the VM still runs on the source/);
      assert.match(virsh(SOURCE, "domstate", name), /running/);
      const after = virsh(SOURCE, "snapshot-dumpxml", name, "live-point");
      assert.equal(/<creationTime>(\d+)<\/creationTime>/.exec(after)?.[1], /<creationTime>(\d+)<\/creationTime>/.exec(before)?.[1]);
      assert.match(virsh(SOURCE, "snapshot-current", name, "--name"), /live-point/, "still the current snapshot");
      await runtime.remove("Snapshot", snap.id!, snap.outs as Props);
      await runtime.remove("VirtualMachine", vm.id!, vm.outs as Props);
    } finally {
      for (const uri of [SOURCE, PEER]) {
        virshMaybe(uri, "destroy", name);
        virshMaybe(uri, "undefine", name, "--snapshots-metadata");
      }
    }
  });
});
