import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";
import { specOf } from "../../support/testbeds";

type Props = Record<string, unknown>;

/**
 * memory.maxMiB on Proxmox VE: memory (and numa=1) in hotplug; the ceiling itself has no PVE key
 * and is NovaCron's. Through the real dynamic provider host against fakepve, read back with a
 * client of our own.
 */
describe("Proxmox VE memory ceiling and hotplug (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const name = uniqueName("mem");
  let host: ProviderHost;
  let api: PveClient;
  let vm: { id: string; outs: Props } | undefined;

  const config = async (id: string): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/qemu/${id}/config`);
  const policy = { shutdownTimeoutSeconds: 5 };

  const inputs = (memory: Props, cpu: Props = { cores: 1 }): Props => ({
    host: "pve",
    name,
    cpu,
    memory,
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
    nics: { net0: { bridge: "vmbr0" } },
    updatePolicy: policy,
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

  it("refuses a memory ceiling together with explicit NUMA cells, naming the field", async () => {
    const { failures } = await host.check(
      "VirtualMachine",
      {},
      inputs(
        { sizeMiB: 1024, maxMiB: 2048 },
        {
          cores: 2,
          numa: [
            { vcpus: "0", memoryMiB: 512 },
            { vcpus: "1", memoryMiB: 512 },
          ],
        },
      ),
    );
    assert.deepEqual(
      failures.map((f) => f.property),
      ["memory.maxMiB"],
    );
    assert.match(failures[0].reason, /together with explicit cpu.numa cells is not translated/);
  });

  it("creates 1 GiB under a 4 GiB ceiling next to a vCPU ceiling: memory=1024, numa=1, hotplug with cpu and memory; a refresh keeps the ceiling", async () => {
    const checked = await host.check("VirtualMachine", {}, inputs({ sizeMiB: 1024, maxMiB: 4096 }, { cores: 1, maxVcpus: 2 }));
    assert.deepEqual(checked.failures, []);
    vm = await host.create("VirtualMachine", checked.inputs);
    const cfg = await config(vm.id);
    assert.equal(String(cfg.memory), "1024");
    assert.equal(String(cfg.numa), "1");
    assert.equal(String(cfg.hotplug), "network,disk,usb,cpu,memory");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((read.inputs.memory as Props).maxMiB, 4096);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, checked.inputs)).changes, false);
  });

  it("growing within the ceiling needs no reboot consent; past it the plan asks for one, naming the ceiling", async () => {
    const old = specOf(vm!.outs);
    assert.deepEqual((await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 2048, maxMiB: 4096 }, updatePolicy: policy })).failures, []);
    const past = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 8192, maxMiB: 8192 }, updatePolicy: policy });
    const sizeFailure = past.failures.find((f) => f.property === "memory.sizeMiB");
    assert.match(sizeFailure?.reason ?? JSON.stringify(past.failures), /8192 MiB exceeds the running maximum of 4096 MiB/);
    // Real PVE plugs the memory in at once; fakepve applies no hardware change to a running VM and
    // keeps it pending, so the outcome is checked after the driver's pending check restarts it.
    const checked = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 2048, maxMiB: 4096 }, updatePolicy: { ...policy, allowReboot: true } });
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, checked.inputs) };
    const cfg = await config(vm.id);
    assert.equal(String(cfg.memory), "2048");
    assert.equal(String(cfg.hotplug), "network,disk,usb,cpu,memory");
  });

  it("dropping the memory ceiling on the stopped VM takes memory out of hotplug and deletes numa, keeping cpu", async () => {
    const old = specOf(vm!.outs);
    const stopped = await host.check("VirtualMachine", old, { ...old, powerState: "stopped" });
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, stopped.inputs) };
    const before = specOf(vm.outs);
    const checked = await host.check("VirtualMachine", before, { ...before, memory: { sizeMiB: 2048 } });
    assert.deepEqual(checked.failures, []);
    vm = { id: vm.id, outs: await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs) };
    const cfg = await config(vm.id);
    assert.equal(String(cfg.hotplug), "network,disk,usb,cpu");
    assert.equal(cfg.numa, undefined);
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((read.inputs.memory as Props).maxMiB, undefined);
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, checked.inputs)).changes, false);
  });
});
