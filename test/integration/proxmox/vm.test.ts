import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveApiError } from "../../../provider/drivers/proxmox/api/errors";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";
import { specOf } from "../../support/testbeds";

type Props = Record<string, unknown>;

/**
 * The Proxmox VE driver through Pulumi's real dynamic provider host against fakepve, which
 * validates every request against PVE's schema. Outcomes are read back with a client of our own.
 */
describe("Proxmox VE VMs through the provider host (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const name = uniqueName("vm");
  let host: ProviderHost;
  let api: PveClient;
  let vm: { id: string; outs: Props } | undefined;

  const config = async (id: string): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/qemu/${id}/config`);
  const status = async (id: string): Promise<{ status: string }> => api.get(`/nodes/${pve.node}/qemu/${id}/status/current`);

  const inputs = (extra: Props = {}): Props => ({
    host: "pve",
    name,
    cpu: { cores: 2 },
    memory: { sizeMiB: 1024 },
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 4, iothread: 1 } },
    nics: { net0: { bridge: "vmbr0", vlan: 10 } },
    labels: { team: "infra" },
    updatePolicy: { shutdownTimeoutSeconds: 5 },
    ...extra,
  });

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve), kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
    api = clientFor(pve);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses what PVE cannot take before anything is touched, naming field and value", async () => {
    const { failures } = await host.check("VirtualMachine", {}, inputs({ name: "web_1", cpu: { cores: 2, threads: 2 }, disks: { vdz: { pool: "local-lvm", sizeGiB: 1 } } }));
    const byField = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(byField.name, /got "web_1"; Proxmox VE takes a DNS name/);
    assert.match(byField["cpu.threads"], /got 2; Proxmox VE has no threads-per-core setting/);
    assert.match(byField["disks.vdz"], /slot "vdz" is outside Proxmox VE's slots/);
    const nvme = await host.check("VirtualMachine", {}, inputs({ disks: { nvme0: { pool: "local-lvm", sizeGiB: 1 } } }));
    assert.deepEqual(
      nvme.failures.map((f) => f.property),
      ["disks.nvme0.bus"],
    );
    // The same VM validates for KVM unchanged.
    assert.deepEqual((await host.check("VirtualMachine", {}, inputs({ host: "kvm", nics: { net0: { bridge: "vmbr0" } } }))).failures, []);
  });

  it("bad input PVE alone can judge comes back as PVE's field errors in our words", async () => {
    const { inputs: checked, failures } = await host.check(
      "VirtualMachine",
      {},
      inputs({ nics: { net0: { bridge: "vmbr 0" } }, disks: { scsi0: { pool: "Bad_Store!", sizeGiB: 1 } } }),
    );
    assert.deepEqual(failures, []);
    await assert.rejects(host.create("VirtualMachine", checked), (error: Error) => {
      assert.match(error.message, /nics\.net0: Proxmox VE refused net0="model=virtio,bridge=vmbr 0": .*net0\.bridge: invalid format - invalid bridge ID 'vmbr 0'/);
      assert.match(error.message, /disks\.scsi0: Proxmox VE refused scsi0="Bad_Store!:1": .*scsi0\.file: invalid format - unable to parse volume ID 'Bad_Store!:1'/);
      assert.doesNotMatch(error.message, /at .*\.ts:\d+/, "no stack trace");
      return true;
    });
  });

  it("creates the VM: id from the server, 2 cores, a 4 GiB scsi disk on local-lvm, a tagged virtio NIC, our tag, running", async () => {
    const { inputs: checked, failures } = await host.check("VirtualMachine", {}, inputs());
    assert.deepEqual(failures, []);
    vm = await host.create("VirtualMachine", checked);
    assert.match(vm.id, /^\d+$/);
    const cfg = await config(vm.id);
    assert.equal(cfg.name, name);
    assert.equal(Number(cfg.cores), 2);
    assert.equal(String(cfg.memory), "1024");
    assert.match(String(cfg.scsi0), new RegExp(`^local-lvm:vm-${vm.id}-disk-0,.*iothread=1.*size=4G`));
    assert.equal(cfg.scsihw, "virtio-scsi-single");
    assert.match(String(cfg.net0), /^virtio=([0-9A-F]{2}:){5}[0-9A-F]{2},bridge=vmbr0,tag=10$/);
    assert.ok(String(cfg.tags).split(";").includes("novacron"), "NovaCron's ownership tag");
    assert.match(String(cfg.description), /novacron-labels: \{"team":"infra"\}/);
    assert.equal((await status(vm.id)).status, "running");
    assert.equal(vm.outs.state, "running");
    assert.equal((vm.outs.macAddresses as Props).net0, String(cfg.net0).slice(7, 24).toLowerCase());
  });

  it("read after create shows no difference, and a second create adopts the VM it finds tagged as ours", async () => {
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    assert.equal(read.id, vm!.id);
    const again = (await host.check("VirtualMachine", {}, inputs())).inputs;
    const diff = await host.diff("VirtualMachine", vm!.id, read.props, again);
    assert.equal(diff.changes, false, `read-back differs: ${JSON.stringify(read.inputs)}`);
    // Slots are keys: the same devices listed in another order are the same VM.
    const reordered = (await host.check("VirtualMachine", {}, { ...inputs(), nics: { net0: { vlan: 10, bridge: "vmbr0" } } })).inputs;
    assert.equal((await host.diff("VirtualMachine", vm!.id, read.props, reordered)).changes, false);
    const adopted = await host.create("VirtualMachine", again);
    assert.equal(adopted.id, vm!.id);
  });

  it("a memory change of the running VM is a reboot-class change: refused at preview without consent, applied by a reboot with it", async () => {
    const old = specOf(vm!.outs);
    const refused = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 2048 } });
    assert.equal(refused.failures[0]?.property, "memory.sizeMiB");
    // No memory.maxMiB: growth is past the running maximum, which PVE keeps pending until a restart.
    assert.match(refused.failures[0].reason, /2048 MiB exceeds the running maximum of 1024 MiB; raise memory.maxMiB.*updatePolicy.allowReboot: true/);
    const allowed = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 2048 }, updatePolicy: { shutdownTimeoutSeconds: 5, allowReboot: true } });
    assert.deepEqual(allowed.failures, []);
    const outs = await host.update("VirtualMachine", vm!.id, vm!.outs, allowed.inputs);
    vm = { id: vm!.id, outs };
    assert.equal(outs.lastChangeClass, "reboot");
    assert.equal(String((await config(vm.id)).memory), "2048", "applied, not left pending");
    const pending = await api.get<{ key: string; pending?: unknown }[]>(`/nodes/${pve.node}/qemu/${vm.id}/pending`);
    assert.deepEqual(
      pending.filter((p) => p.pending !== undefined).map((p) => p.key),
      [],
    );
    assert.equal((await status(vm.id)).status, "running");
  });

  it("a change PVE leaves pending fails clearly when reboots are not allowed, and says it waits for the next restart", async () => {
    const old = specOf(vm!.outs);
    // A NIC's VLAN is live by the neutral rules; fakepve (unlike a PVE with network hotplug) leaves it pending.
    const next = { ...old, nics: { net0: { bridge: "vmbr0", vlan: 11 } }, updatePolicy: { shutdownTimeoutSeconds: 5, allowReboot: false } };
    const checked = await host.check("VirtualMachine", old, next);
    assert.deepEqual(checked.failures, []);
    await assert.rejects(host.update("VirtualMachine", vm!.id, vm!.outs, checked.inputs), /keeps net0 pending until the VM restarts.*updatePolicy.allowReboot is false/);
    const pending = await api.get<{ key: string; pending?: string }[]>(`/nodes/${pve.node}/qemu/${vm!.id}/pending`);
    assert.match(String(pending.find((p) => p.key === "net0")?.pending), /tag=11/);
  });

  it("stops gracefully, then adds a disk and a NIC to the stopped VM; a refresh records them by slot", async () => {
    const old = specOf(vm!.outs);
    const stopped = (await host.check("VirtualMachine", old, { ...old, powerState: "stopped", nics: { net0: { bridge: "vmbr0", vlan: 11 } } })).inputs;
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, stopped) };
    assert.equal((await status(vm.id)).status, "stopped");
    const grown = {
      ...specOf(vm.outs),
      disks: { ...(old.disks as Props), vdb: { pool: "local-lvm", sizeGiB: 2 } },
      nics: { net0: { bridge: "vmbr0", vlan: 11 }, net1: { bridge: "vmbr1", model: "e1000e" } },
    };
    const checked = await host.check("VirtualMachine", specOf(vm.outs), grown);
    assert.deepEqual(checked.failures, []);
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs) };
    const cfg = await config(vm.id);
    // Real PVE allocates a STORAGE:SIZE drive written by a config update; fakepve keeps the request as
    // written (outside its hand-written create), so the allocation itself cannot be seen here.
    assert.match(String(cfg.virtio1), /^local-lvm:2$/);
    // Likewise PVE would write the MAC it picks (e1000e=BC:24:…); fakepve keeps the NIC as sent.
    assert.match(String(cfg.net1), /^model=e1000e,bridge=vmbr1$/);
    assert.match(String(cfg.net0), /tag=11/, "the pending change was applied when the VM stopped");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(Object.keys(read.inputs.disks as Props).sort(), ["scsi0", "vdb"]);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, checked.inputs)).changes, false);
  });

  it("deletes the VM, and a second delete of the same id is 'already gone'", async () => {
    const { id, outs } = vm!;
    await host.delete("VirtualMachine", id, outs);
    vm = undefined;
    await assert.rejects(config(id), (e: unknown) => e instanceof PveApiError && e.isMissingGuest);
    await host.delete("VirtualMachine", id, outs);
  });
});
