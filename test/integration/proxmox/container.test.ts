import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveApiError } from "../../../provider/drivers/proxmox/api/errors";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";
import { ensureTemplate } from "./templates";

type Props = Record<string, unknown>;

/**
 * LXC containers through Pulumi's real dynamic provider host against fakepve (which keeps
 * container configs, pending changes, mount volumes and locks). Outcomes are read back with a
 * client of our own, never from what the provider answered.
 */
describe("Proxmox VE containers through the provider host (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const name = uniqueName("ct");
  let host: ProviderHost;
  let api: PveClient;
  let template: string;
  let ct: { id: string; outs: Props } | undefined;

  const config = async (id: string): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/lxc/${id}/config`, { current: 1 });
  const status = async (id: string): Promise<string> => (await api.get<{ status: string }>(`/nodes/${pve.node}/lxc/${id}/status/current`)).status;
  const pendingKeys = async (id: string): Promise<string[]> =>
    (await api.get<{ key: string; pending?: unknown; delete?: number }[]>(`/nodes/${pve.node}/lxc/${id}/pending`))
      .filter((p) => p.pending !== undefined || p.delete)
      .map((p) => p.key);

  const inputs = (extra: Props = {}): Props => ({
    host: "pve",
    name,
    template,
    cpu: { cores: 1 },
    memory: { sizeMiB: 512, swapMiB: 256 },
    rootfs: { pool: "local-lvm", sizeGiB: 4 },
    mountPoints: { mp0: { pool: "local-lvm", sizeGiB: 2, path: "/srv/data", backup: true } },
    nics: { net0: { bridge: "vmbr0", ip: "10.20.0.5/24", gateway: "10.20.0.1", vlan: 20 } },
    features: { nesting: true },
    labels: { team: "infra" },
    updatePolicy: { shutdownTimeoutSeconds: 5 },
    ...extra,
  });

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve), kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
    api = clientFor(pve);
    template = await ensureTemplate(api, pve.node);
  });

  after(async () => {
    if (ct) await host.delete("Container", ct.id, ct.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses what cannot work before anything is touched, naming field and value", async () => {
    const { failures } = await host.check(
      "Container",
      {},
      inputs({ template: "local:iso/debian.iso", nics: { net0: { bridge: "vmbr 0" }, net1: { bridge: "vmbr1", name: "eth0" } }, rootfs: { pool: "local-lvm" } }),
    );
    const byField = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(byField["rootfs.pool"], /needs both pool and sizeGiB/);
    const translated = await host.check(
      "Container",
      {},
      inputs({ template: "local:iso/debian.iso", nics: { net0: { bridge: "vmbr 0" }, net1: { bridge: "vmbr1", name: "eth0" } } }),
    );
    const t = Object.fromEntries(translated.failures.map((f) => [f.property, f.reason]));
    assert.match(t.template, /got "local:iso\/debian.iso"; an OS template lives in a storage's vztmpl\/ folder/);
    assert.match(t["nics.net0.bridge"], /got "vmbr 0"; a Proxmox VE bridge is a Linux interface name/);
    assert.match(t["nics.net1.name"], /"eth0" is already the name of net0's interface/);
    // The same container on a KVM host: the capability table says why not.
    const kvm = await host.check("Container", {}, inputs({ host: "kvm" }));
    assert.deepEqual(
      kvm.failures.map((f) => f.property),
      ["host"],
    );
    assert.match(kvm.failures[0].reason, /libvirt driver manages QEMU\/KVM domains only/);
  });

  it("bad input only PVE can judge comes back as PVE's field errors in our words, and nothing is left behind", async () => {
    // 40 labels of 250 characters: the description PVE keeps them in outgrows its 8192 characters.
    const labels = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "x".repeat(250)]));
    const { inputs: checked, failures } = await host.check("Container", {}, inputs({ labels, name: `${name}-bad` }));
    assert.deepEqual(failures, []);
    await assert.rejects(host.create("Container", checked), (error: Error) => {
      assert.match(error.message, /labels: Proxmox VE refused description="Managed by NovaCron.*: value may only be 8192 characters long/);
      assert.doesNotMatch(error.message, /at .*\.ts:\d+/, "no stack trace");
      return true;
    });
    const left = await api.get<{ name?: string; type: string }[]>("/cluster/resources", { type: "vm" });
    assert.equal(left.filter((g) => g.name === `${name}-bad`).length, 0);
  });

  it("creates the container: id from the server, rootfs and mp0 allocated on local-lvm, NIC, features, unprivileged, our tag, running", async () => {
    const { inputs: checked, failures } = await host.check("Container", {}, inputs());
    assert.deepEqual(failures, []);
    ct = await host.create("Container", checked);
    assert.match(ct.id, /^\d+$/);
    const cfg = await config(ct.id);
    assert.equal(cfg.hostname, name);
    assert.equal(Number(cfg.memory), 512);
    assert.equal(Number(cfg.swap), 256);
    assert.match(String(cfg.rootfs), new RegExp(`^local-lvm:vm-${ct.id}-disk-\\d+,size=4G$`));
    // PVE writes the options of a mount point in its own (sorted) order.
    assert.match(String(cfg.mp0), new RegExp(`^local-lvm:vm-${ct.id}-disk-\\d+,backup=1,mp=/srv/data,size=2G$`));
    const net0 = new Map(
      String(cfg.net0)
        .split(",")
        .map((kv) => kv.split("=") as [string, string]),
    );
    assert.deepEqual([net0.get("name"), net0.get("bridge"), net0.get("ip"), net0.get("gw"), net0.get("tag")], ["eth0", "vmbr0", "10.20.0.5/24", "10.20.0.1", "20"]);
    // PVE picked the MAC; it is an output, not an input the next plan would fight over.
    assert.match(String(net0.get("hwaddr")), /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/);
    assert.equal((ct.outs.macAddresses as Props).net0, String(net0.get("hwaddr")).toLowerCase());
    assert.equal(String(cfg.features), "nesting=1");
    assert.equal(Number(cfg.unprivileged), 1);
    assert.ok(String(cfg.tags).split(";").includes("novacron"));
    assert.match(String(cfg.description), /novacron-labels: \{"team":"infra"\}/);
    assert.equal(await status(ct.id), "running");
    assert.equal(ct.outs.state, "running");
  });

  it("read after create shows no difference; a second create adopts the container tagged as ours", async () => {
    const read = await host.read("Container", ct!.id, ct!.outs);
    const again = (await host.check("Container", {}, inputs())).inputs;
    const diff = await host.diff("Container", ct!.id, read.props, again);
    assert.equal(diff.changes, false, `read-back differs: ${JSON.stringify(read.inputs)}`);
    // Every output the driver records is declared, so the recorded state parses as the next inputs.
    assert.deepEqual((await host.check("Container", read.inputs, specOf(read.props, "Container"))).failures, []);
    const adopted = await host.create("Container", again);
    assert.equal(adopted.id, ct!.id);
  });

  it("memory, cores and a new mount point are applied to the running container: nothing pending, no restart", async () => {
    const old = specOf(ct!.outs, "Container");
    const next = {
      ...old,
      cpu: { cores: 2 },
      memory: { sizeMiB: 1024, swapMiB: 256 },
      mountPoints: { ...(old.mountPoints as Props), mp1: { pool: "local-lvm", sizeGiB: 1, path: "/srv/logs" } },
    };
    const checked = await host.check("Container", old, next);
    assert.deepEqual(checked.failures, []);
    assert.ok((checked.inputs.plannedChanges as string[]).some((l) => /^mountPoints\.mp1: hotplug/.test(l)));
    ct = { id: ct!.id, outs: await host.update("Container", ct!.id, ct!.outs, checked.inputs) };
    const cfg = await config(ct.id);
    assert.equal(Number(cfg.memory), 1024);
    assert.equal(Number(cfg.cores), 2);
    assert.match(String(cfg.mp1), new RegExp(`^local-lvm:vm-${ct.id}-disk-\\d+,mp=/srv/logs,size=1G$`));
    assert.deepEqual(await pendingKeys(ct.id), []);
    assert.equal(await status(ct.id), "running");
    assert.equal(ct.outs.lastChangeClass, "hotplug");
  });

  it("a feature change needs a restart: refused at preview without consent, applied by a reboot with it", async () => {
    const old = specOf(ct!.outs, "Container");
    const refused = await host.check("Container", old, { ...old, features: { nesting: true, keyctl: true } });
    assert.equal(refused.failures[0]?.property, "features.keyctl");
    assert.match(refused.failures[0].reason, /needs the running container to restart.*updatePolicy.allowReboot is false/);
    // Past the preview (an older plan), the server's pending list still stops it.
    const sneaked = (await host.check("Container", old, { ...old, features: { nesting: true, keyctl: true }, updatePolicy: { shutdownTimeoutSeconds: 5, allowReboot: true } }))
      .inputs;
    await assert.rejects(
      host.update("Container", ct!.id, ct!.outs, { ...sneaked, updatePolicy: { shutdownTimeoutSeconds: 5, allowReboot: false } }),
      /keeps features pending until the container restarts.*allowReboot is false/,
    );
    assert.deepEqual(await pendingKeys(ct!.id), ["features"]);
    ct = { id: ct!.id, outs: await host.update("Container", ct!.id, ct!.outs, sneaked) };
    assert.equal(String((await config(ct.id)).features), "keyctl=1,nesting=1");
    assert.deepEqual(await pendingKeys(ct.id), []);
    assert.equal(await status(ct.id), "running");
  });

  it("grows the root file system in place, and a shrink is planned as a replace", async () => {
    const old = specOf(ct!.outs, "Container");
    const grown = (await host.check("Container", old, { ...old, rootfs: { pool: "local-lvm", sizeGiB: 6 } })).inputs;
    ct = { id: ct!.id, outs: await host.update("Container", ct!.id, ct!.outs, grown) };
    assert.match(String((await config(ct.id)).rootfs), /,size=6G$/);
    const shrink = await host.diff("Container", ct.id, ct.outs, { ...specOf(ct.outs, "Container"), rootfs: { pool: "local-lvm", sizeGiB: 2 } });
    assert.deepEqual(shrink.replaces, ["rootfs"]);
  });

  it("stops cleanly and starts again", async () => {
    const old = specOf(ct!.outs, "Container");
    ct = { id: ct!.id, outs: await host.update("Container", ct!.id, ct!.outs, (await host.check("Container", old, { ...old, powerState: "stopped" })).inputs) };
    assert.equal(await status(ct.id), "stopped");
    assert.equal(ct.outs.state, "stopped");
    ct = { id: ct.id, outs: await host.update("Container", ct.id, ct.outs, (await host.check("Container", specOf(ct.outs, "Container"), old)).inputs) };
    assert.equal(await status(ct.id), "running");
  });

  it("deletes the container (shut down first), and a second delete is 'already gone'", async () => {
    const { id, outs } = ct!;
    await host.delete("Container", id, outs);
    ct = undefined;
    await assert.rejects(config(id), (e: unknown) => e instanceof PveApiError && e.isMissingGuest);
    await host.delete("Container", id, outs);
  });
});
