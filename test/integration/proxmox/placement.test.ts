import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";
import { specOf } from "../../support/testbeds";

type Props = Record<string, unknown>;

/**
 * CPU and memory placement on Proxmox VE (hugepages, affinity, guest NUMA cells) through the real
 * dynamic provider host against fakepve, which validates every key against PVE's schema. The
 * config is read back with a client of our own and compared key by key.
 */
describe("Proxmox VE CPU and memory placement (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const name = uniqueName("place");
  let host: ProviderHost;
  let api: PveClient;
  let vm: { id: string; outs: Props } | undefined;

  const config = async (id: string): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/qemu/${id}/config`);

  const inputs = (cpu: Props, memory: Props): Props => ({
    host: "pve",
    name,
    cpu,
    memory,
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
    nics: { net0: { bridge: "vmbr0" } },
    powerState: "stopped",
  });

  /** A refresh right after a write records what the next up accepts without a change. */
  const noDiffAfterRead = async (checked: Props) => {
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    const diff = await host.diff("VirtualMachine", vm!.id, read.props, checked);
    assert.equal(diff.changes, false, `read-back differs: ${JSON.stringify(read.inputs)}`);
  };

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("refuses per-vCPU pinning and partial pinning at check, naming the field and the value", async () => {
    const perVcpu = await host.check("VirtualMachine", {}, inputs({ cores: 2, pinning: { "0": "0", "1": "1" } }, { sizeMiB: 1024 }));
    assert.deepEqual(
      perVcpu.failures.map((f) => f.property),
      ["cpu.pinning"],
    );
    assert.match(perVcpu.failures[0].reason, /got \{"0":"0","1":"1"\}; Proxmox VE's `affinity` binds all vCPUs .* pin every vCPU \(0-1\) to the same set/);
    const partial = await host.check("VirtualMachine", {}, inputs({ cores: 2, pinning: { "0": "0-1" } }, { sizeMiB: 1024 }));
    assert.equal(partial.failures[0]?.property, "cpu.pinning");
    const excluded = await host.check("VirtualMachine", {}, inputs({ cores: 2, pinning: { "0": "0-3,^2", "1": "0-3,^2" } }, { sizeMiB: 1024 }));
    assert.match(excluded.failures[0]?.reason ?? "", /got "0-3,\^2"; .*without \^ exclusions/);
  });

  it("creates with 2 MiB hugepages, an affinity and two NUMA cells: hugepages=2, affinity, numa=1, numa0/numa1", async () => {
    const checked = await host.check(
      "VirtualMachine",
      {},
      inputs(
        {
          sockets: 2,
          cores: 2,
          pinning: { "0": "0-1,3", "1": "0-1,3", "2": "0-1,3", "3": "0-1,3" },
          numa: [
            { vcpus: "0-1", memoryMiB: 1024, hostNode: 0 },
            { vcpus: "2,3", memoryMiB: 1024 },
          ],
        },
        { sizeMiB: 2048, hugepages: { pageSizeKiB: 2048 } },
      ),
    );
    assert.deepEqual(checked.failures, []);
    vm = await host.create("VirtualMachine", checked.inputs);
    const cfg = await config(vm.id);
    assert.equal(String(cfg.hugepages), "2");
    assert.equal(String(cfg.affinity), "0-1,3");
    assert.equal(String(cfg.numa), "1");
    assert.equal(String(cfg.numa0), "cpus=0-1,memory=1024,hostnodes=0,policy=bind");
    assert.equal(String(cfg.numa1), "cpus=2;3,memory=1024");
    assert.equal(cfg.numa2, undefined);
    await noDiffAfterRead(checked.inputs);
  });

  it("updates to 1 GiB pages, one NUMA cell, no affinity: the dropped keys are deleted, the rest rewritten", async () => {
    const old = specOf(vm!.outs);
    const next = {
      ...old,
      cpu: { sockets: 2, cores: 2, numa: [{ vcpus: "0-3", memoryMiB: 2048, hostNode: 1 }] },
      memory: { sizeMiB: 2048, hugepages: { pageSizeKiB: 1048576 } },
    };
    const checked = await host.check("VirtualMachine", old, next);
    assert.deepEqual(checked.failures, []);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, checked.inputs) };
    const cfg = await config(vm.id);
    assert.equal(String(cfg.hugepages), "1024");
    assert.equal(cfg.affinity, undefined);
    assert.equal(String(cfg.numa), "1");
    assert.equal(String(cfg.numa0), "cpus=0-3,memory=2048,hostnodes=1,policy=bind");
    assert.equal(cfg.numa1, undefined);
    await noDiffAfterRead(checked.inputs);
  });

  it("dropping hugepages and NUMA deletes hugepages, numa and numa0", async () => {
    const old = specOf(vm!.outs);
    const checked = await host.check("VirtualMachine", old, { ...old, cpu: { sockets: 2, cores: 2 }, memory: { sizeMiB: 2048 } });
    assert.deepEqual(checked.failures, []);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, checked.inputs) };
    const cfg = await config(vm.id);
    for (const key of ["hugepages", "affinity", "numa", "numa0"]) assert.equal(cfg[key], undefined, `${key} is gone`);
    await noDiffAfterRead(checked.inputs);
  });
});
