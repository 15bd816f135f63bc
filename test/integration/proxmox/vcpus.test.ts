import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";
import { specOf } from "../../support/testbeds";

type Props = Record<string, unknown>;

/**
 * cpu.maxVcpus on Proxmox VE (sockets × cores as the ceiling, vcpus online, cpu in hotplug)
 * through the real dynamic provider host against fakepve; the config and PVE's pending list are
 * read back with a client of our own.
 */
describe("Proxmox VE vCPU ceiling and hot-add (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const name = uniqueName("vcpu");
  let host: ProviderHost;
  let api: PveClient;
  let vm: { id: string; outs: Props } | undefined;

  const config = async (id: string): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/qemu/${id}/config`);
  const pendingKeys = async (id: string): Promise<string[]> =>
    (await api.get<{ key: string; pending?: unknown; delete?: unknown }[]>(`/nodes/${pve.node}/qemu/${id}/pending`))
      .filter((p) => p.pending !== undefined || p.delete !== undefined)
      .map((p) => p.key);

  const inputs = (cpu: Props, extra: Props = {}): Props => ({
    host: "pve",
    name,
    cpu,
    memory: { sizeMiB: 1024 },
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
    nics: { net0: { bridge: "vmbr0" } },
    updatePolicy: { shutdownTimeoutSeconds: 5 },
    ...extra,
  });

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("refuses a ceiling that is not whole sockets, naming the field, the value and what fits", async () => {
    const { failures } = await host.check("VirtualMachine", {}, inputs({ sockets: 2, cores: 1, maxVcpus: 5 }));
    assert.deepEqual(
      failures.map((f) => f.property),
      ["cpu.maxVcpus"],
    );
    assert.match(failures[0].reason, /got 5; on Proxmox VE the ceiling is sockets × cores, so it must be a multiple of cpu.sockets \(2\)/);
  });

  it("creates 2 vCPUs under a ceiling of 8: sockets=1, cores=8, vcpus=2, cpu added to PVE's default hotplug", async () => {
    const checked = await host.check("VirtualMachine", {}, inputs({ cores: 2, maxVcpus: 8 }));
    assert.deepEqual(checked.failures, []);
    vm = await host.create("VirtualMachine", checked.inputs);
    const cfg = await config(vm.id);
    assert.equal(Number(cfg.sockets), 1);
    assert.equal(Number(cfg.cores), 8);
    assert.equal(Number(cfg.vcpus), 2);
    assert.equal(String(cfg.hotplug), "network,disk,usb,cpu");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(read.inputs.cpu, { sockets: 1, cores: 2, threads: 1, maxVcpus: 8, mode: "host-model" });
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, checked.inputs)).changes, false);
  });

  it("growing to 4 within the ceiling passes preview as a hotplug change without reboot consent, and lands as vcpus=4 under the same ceiling", async () => {
    const old = specOf(vm!.outs);
    const grown = { ...old, cpu: { cores: 4, maxVcpus: 8 } };
    assert.deepEqual((await host.check("VirtualMachine", old, grown)).failures, [], "no reboot consent needed within the ceiling");
    // Real PVE brings the vCPUs online at once (cpu in hotplug); fakepve applies no hardware
    // change to a running VM and keeps vcpus pending, so the driver's pending check (after every
    // write) would stop here without consent. With it, the driver restarts the VM and the outcome
    // (vcpus=4, the ceiling kept, nothing pending, running) is checked.
    const checked = await host.check("VirtualMachine", old, { ...grown, updatePolicy: { shutdownTimeoutSeconds: 5, allowReboot: true } });
    const outs = await host.update("VirtualMachine", vm!.id, vm!.outs, checked.inputs);
    vm = { id: vm!.id, outs };
    assert.equal(outs.lastChangeClass, "reboot", "the recorded class says the server's pending list forced a restart");
    const cfg = await config(vm.id);
    assert.equal(Number(cfg.vcpus), 4);
    assert.equal(Number(cfg.cores), 8, "the ceiling is unchanged");
    assert.equal(String(cfg.hotplug), "network,disk,usb,cpu");
    assert.deepEqual(await pendingKeys(vm.id), []);
    const status = await api.get<{ status: string }>(`/nodes/${pve.node}/qemu/${vm.id}/status/current`);
    assert.equal(status.status, "running");
  });

  it("shrinking is a reboot-class change (QEMU cannot unplug boot vCPUs), refused at preview without consent", async () => {
    const old = specOf(vm!.outs);
    const refused = await host.check("VirtualMachine", old, { ...old, cpu: { cores: 2, maxVcpus: 8 }, updatePolicy: { shutdownTimeoutSeconds: 5 } });
    assert.equal(refused.failures[0]?.property, "cpu.cores");
    assert.match(refused.failures[0].reason, /cannot unplug the vCPUs the VM booted with/);
  });

  it("dropping the ceiling on the stopped VM deletes vcpus, writes cores back and takes cpu out of hotplug", async () => {
    const old = specOf(vm!.outs);
    const stopped = await host.check("VirtualMachine", old, { ...old, powerState: "stopped" });
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, stopped.inputs) };
    const before = specOf(vm.outs);
    const checked = await host.check("VirtualMachine", before, { ...before, cpu: { cores: 4 } });
    assert.deepEqual(checked.failures, []);
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs) };
    const cfg = await config(vm.id);
    assert.equal(Number(cfg.cores), 4);
    assert.equal(cfg.vcpus, undefined);
    assert.equal(String(cfg.hotplug), "network,disk,usb");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, checked.inputs)).changes, false);
  });
});
