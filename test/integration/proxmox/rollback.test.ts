import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { ensureTemplate } from "./templates";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

/**
 * Snapshot + rollback as code for both guest kinds: a Snapshot of a container or a VM, the guest
 * changed behind it, then a new `rollbackOn` value rolls it back. The outcome is read back from
 * the guest's config on fakepve, which keeps snapshot configs and restores them on rollback.
 */
describe("Proxmox VE snapshots and rollback of containers and VMs (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  const made: { kind: "Container" | "VirtualMachine" | "Snapshot"; id: string; outs: Props }[] = [];

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve), kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
    api = clientFor(pve);
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  const roundTrip = async (kind: "Container" | "VirtualMachine", folder: "lxc" | "qemu", guestInputs: Props) => {
    const guest = await host.checkAndCreate(kind, guestInputs);
    made.push({ kind, ...guest });
    const snap = await host.checkAndCreate("Snapshot", { host: "pve", vm: guest.id, name: "clean", description: "before the change" });
    made.push({ kind: "Snapshot", ...snap });
    const listed = await api.get<{ name: string }[]>(`/nodes/${pve.node}/${folder}/${guest.id}/snapshot`);
    assert.ok(listed.some((s) => s.name === "clean"));
    // Someone changes the guest outside the snapshot.
    await api.put(`/nodes/${pve.node}/${folder}/${guest.id}/config`, { memory: 2048 });
    assert.equal(Number((await api.get<{ memory: number }>(`/nodes/${pve.node}/${folder}/${guest.id}/config`)).memory), 2048);
    const old = specOf(snap.outs, "Snapshot");
    const checked = await host.check("Snapshot", old, { ...old, rollbackOn: "2026-12-05 incident 7" });
    assert.deepEqual(checked.failures, []);
    const diff = await host.diff("Snapshot", snap.id, snap.outs, checked.inputs);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, [], "a rollback never retakes the snapshot");
    const outs = await host.update("Snapshot", snap.id, snap.outs, checked.inputs);
    made[made.length - 1].outs = outs;
    assert.equal(Number((await api.get<{ memory: number }>(`/nodes/${pve.node}/${folder}/${guest.id}/config`)).memory), 512, "rolled back");
    // The same value again is no new rollback.
    assert.equal((await host.diff("Snapshot", snap.id, outs, checked.inputs)).changes, false);
    return guest;
  };

  it("a container: snapshot, change behind it, rollbackOn rolls it back", async () => {
    const template = await ensureTemplate(api, pve.node);
    await roundTrip("Container", "lxc", {
      host: "pve",
      name: uniqueName("rb-ct"),
      template,
      rootfs: { pool: "local-lvm", sizeGiB: 1 },
      memory: { sizeMiB: 512 },
      powerState: "stopped",
    });
  });

  it("a VM: the same", async () => {
    await roundTrip("VirtualMachine", "qemu", { host: "pve", name: uniqueName("rb-vm"), memory: { sizeMiB: 512 }, powerState: "stopped" });
  });

  it("a container snapshot cannot hold memory, and other hypervisors refuse rollbackOn at preview", async () => {
    const failures = (await host.check("Snapshot", {}, { host: "kvm", vm: "web", name: "s1", rollbackOn: "now" })).failures;
    assert.equal(failures[0]?.property, "rollbackOn");
    assert.match(failures[0].reason, /libvirt driver does not revert to snapshots yet/);
    const ct = made.find((m) => m.kind === "Container")!;
    await assert.rejects(host.checkAndCreate("Snapshot", { host: "pve", vm: ct.id, name: "withram", memory: true }), /memory: a container has no memory state to save/);
  });
});
