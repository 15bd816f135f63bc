import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

/** Snapshots of a Proxmox VM through the provider host, read back from fakepve's snapshot list. */
describe("Proxmox VE snapshots through the provider host (fakepve)", function () {
  this.timeout(60_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  let vm: { id: string; outs: Props } | undefined;
  let snap: { id: string; outs: Props } | undefined;

  const snapshots = async (): Promise<{ name: string; description?: string; vmstate?: number }[]> =>
    (await api.get<{ name: string }[]>(`/nodes/${pve.node}/qemu/${vm!.id}/snapshot`)).filter((s) => s.name !== "current");

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
    vm = await host.checkAndCreate("VirtualMachine", {
      host: "pve",
      name: uniqueName("snap"),
      memory: { sizeMiB: 512 },
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
      updatePolicy: { shutdownTimeoutSeconds: 2 },
    });
  });

  after(async () => {
    if (snap) await host.delete("Snapshot", snap.id, snap.outs).catch((e) => console.error(`cleanup: ${e}`));
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses names PVE refuses and quiesce, naming the field", async () => {
    const { failures } = await host.check("Snapshot", {}, { host: "pve", vm: vm!.id, name: "before-upgrade", quiesce: true });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["name", "quiesce"],
    );
    assert.match(failures[0].reason, /got "before-upgrade"; Proxmox VE names snapshots with 2-40 letters, digits and _/);
  });

  it("takes a snapshot with the running VM's memory; read shows no difference", async () => {
    snap = await host.checkAndCreate("Snapshot", { host: "pve", vm: vm!.id, name: "before_upgrade", memory: true, description: "pre-upgrade" });
    assert.equal(snap.id, `${vm!.id}/before_upgrade`);
    const [taken] = await snapshots();
    assert.equal(taken.name, "before_upgrade");
    assert.equal(taken.description, "pre-upgrade");
    assert.equal(taken.vmstate, 1, "the memory state was saved");
    const read = await host.read("Snapshot", snap.id, snap.outs);
    assert.equal(
      (
        await host.diff(
          "Snapshot",
          snap.id,
          read.props,
          (
            await host.check("Snapshot", {}, { host: "pve", vm: vm!.id, name: "before_upgrade", memory: true, description: "pre-upgrade" })
          ).inputs,
        )
      ).changes,
      false,
    );
  });

  it("edits the description in place, then deletes; a second delete is 'already gone'", async () => {
    const next = (await host.check("Snapshot", snap!.outs, { host: "pve", vm: vm!.id, name: "before_upgrade", memory: true, description: "kept for a week" })).inputs;
    const diff = await host.diff("Snapshot", snap!.id, snap!.outs, next);
    assert.deepEqual(diff.replaces, []);
    snap = { id: snap!.id, outs: await host.update("Snapshot", snap!.id, snap!.outs, next) };
    assert.equal((await snapshots())[0].description, "kept for a week");
    await host.delete("Snapshot", snap.id, snap.outs);
    assert.deepEqual(await snapshots(), []);
    await host.delete("Snapshot", snap.id, snap.outs);
    snap = undefined;
  });
});
