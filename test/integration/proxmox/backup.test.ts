import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { ensureTemplate } from "./templates";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

/**
 * Backup (vzdump to a storage, with retention) and restore (a Container created from an archive)
 * through the provider host. fakepve runs vzdump as a real task with a UPID and a task-list entry,
 * but writes no archive: the tests assert what the server shows (the task, its parameters, the
 * storage listing) and say where it cannot show the effect.
 */
describe("Proxmox VE backups and restore through the provider host (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  const made: { kind: "Container" | "Backup"; id: string; outs: Props }[] = [];
  let source: { id: string; outs: Props };

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve), kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
    api = clientFor(pve);
    const template = await ensureTemplate(api, pve.node);
    source = await host.checkAndCreate("Container", { host: "pve", name: uniqueName("bk"), template, rootfs: { pool: "local-lvm", sizeGiB: 2 }, powerState: "stopped" });
    made.push({ kind: "Container", ...source });
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses a guest that is not an id and a storage PVE would refuse; other hypervisors say why they have no backups", async () => {
    const { failures } = await host.check("Backup", {}, { host: "pve", guest: "web", storage: "Bad Store" });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["guest", "storage"],
    );
    assert.match(failures[0].reason, /got "web"; on Proxmox VE this is the VirtualMachine's or Container's id/);
    const kvm = await host.check("Backup", {}, { host: "kvm", guest: "101", storage: "local" });
    assert.match(kvm.failures[0].reason, /libvirt has no backup archive store/);
  });

  it("backs the container up to local with retention: the vzdump task ran OK for that guest; no archive is listed, so it is recorded as unlisted", async () => {
    const created = await host.checkAndCreate("Backup", { host: "pve", guest: source.id, storage: "local", mode: "stop", retention: { keepLast: 2 }, notes: "before upgrade" });
    made.push({ kind: "Backup", ...created });
    const tasks = await api.get<{ upid: string; type: string; id?: string; status?: string }[]>(`/nodes/${pve.node}/tasks`, { vmid: Number(source.id), typefilter: "vzdump" });
    assert.ok(
      tasks.some((t) => t.type === "vzdump" && t.status === "OK"),
      `a finished vzdump task for ${source.id}: ${JSON.stringify(tasks)}`,
    );
    // What a real PVE shows here (the archive in local's backup content, pruned to 2) fakepve cannot:
    // its vzdump writes nothing. The listing is read, and the record says it is unlisted.
    const listed = await api.get<{ volid: string }[]>(`/nodes/${pve.node}/storage/local/content`, { content: "backup", vmid: Number(source.id) });
    assert.equal(created.outs.state, listed.length > 0 ? "listed" : "unlisted");
    if (listed.length === 0) {
      assert.match(created.id, new RegExp(`^unlisted:${source.id}:local:\\d+$`));
      assert.equal(created.outs.archive, null);
    }
    // Refresh keeps an unlisted record (it cannot be told from a removed archive), and it parses as inputs.
    const read = await host.read("Backup", created.id, created.outs);
    assert.equal(read.id, created.id);
    assert.deepEqual((await host.check("Backup", read.inputs, specOf(read.props, "Backup"))).failures, []);
    // Any change is a new backup.
    const diff = await host.diff("Backup", created.id, created.outs, { ...specOf(created.outs, "Backup"), mode: "snapshot" });
    assert.deepEqual(diff.replaces, ["mode"]);
  });

  it("restores a container from an archive: a create with restore=1, then our name, limits and tag written over the archive's config", async () => {
    // fakepve does not check that a backup volume exists on a storage that lists none; on PVE this is a Backup's archive output.
    const archive = `local:backup/vzdump-lxc-${source.id}-2026_12_05-03_00_00.tar.zst`;
    const name = uniqueName("restored");
    const restored = await host.checkAndCreate("Container", {
      host: "pve",
      name,
      restoreFrom: archive,
      rootfs: { pool: "local-lvm", sizeGiB: 3 },
      memory: { sizeMiB: 768 },
      powerState: "stopped",
    });
    made.push({ kind: "Container", ...restored });
    assert.notEqual(restored.id, source.id);
    const cfg = await api.get<Record<string, string | number>>(`/nodes/${pve.node}/lxc/${restored.id}/config`);
    assert.equal(cfg.hostname, name);
    assert.equal(Number(cfg.memory), 768);
    assert.match(String(cfg.rootfs), /^local-lvm:vm-\d+-disk-\d+,size=3G$/);
    assert.ok(String(cfg.tags).split(";").includes("novacron"));
    const tasks = await api.get<{ type: string; id?: string }[]>(`/nodes/${pve.node}/tasks`, { vmid: Number(restored.id) });
    assert.ok(
      tasks.some((t) => t.type === "vzrestore" || t.type === "vzcreate"),
      `a restore task: ${JSON.stringify(tasks.map((t) => t.type))}`,
    );
  });
});
