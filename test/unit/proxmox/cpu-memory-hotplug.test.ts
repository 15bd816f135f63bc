import assert from "node:assert/strict";
import { VirtualMachineInputs, type VirtualMachineArgs } from "../../../provider/core/model";
import { cpuFromConfig, hotplugWith } from "../../../provider/drivers/proxmox/vm/hotplug";
import { createParams, specFromConfig, updateParams, type PveConfig } from "../../../provider/drivers/proxmox/vm/translate";

const spec = (args: Partial<VirtualMachineArgs>) => VirtualMachineInputs.parse({ host: "pve", name: "web", memory: { sizeMiB: 1024 }, ...args });

describe("Proxmox VE ceilings and placement (translation)", () => {
  it("hotplug: PVE's default when unset or 1, none for 0, other features kept in their order", () => {
    assert.equal(hotplugWith(undefined, "cpu", true), "network,disk,usb,cpu");
    assert.equal(hotplugWith("1", "memory", true), "network,disk,usb,memory");
    assert.equal(hotplugWith(1, "cpu", false), "1", "nothing to take out: the value is left as it was");
    assert.equal(hotplugWith("0", "cpu", true), "cpu");
    assert.equal(hotplugWith("cpu", "cpu", false), "0");
    assert.equal(hotplugWith("disk,cpu,network", "cpu", true), "disk,cpu,network");
    assert.equal(hotplugWith("disk,cpu,network", "cpu", false), "disk,network");
  });

  it("vcpus read back: split over the sockets, or the last cores when PVE's count does not split evenly", () => {
    assert.deepEqual(cpuFromConfig({ sockets: 2, cores: 4, vcpus: 4 }, 1), { sockets: 2, cores: 2, maxVcpus: 8 });
    assert.deepEqual(cpuFromConfig({ sockets: 2, cores: 4, vcpus: 3 }, 1), { sockets: 2, cores: 1, maxVcpus: 8 });
    assert.deepEqual(cpuFromConfig({ sockets: 1, cores: 4 }, 2), { sockets: 1, cores: 4 });
  });

  it("every placement and ceiling written on create reads back as the same spec", () => {
    const vm = spec({
      cpu: { sockets: 2, cores: 1, maxVcpus: 4, pinning: { "0": "2-3", "1": "2-3" } },
      memory: { sizeMiB: 2048, maxMiB: 8192, hugepages: { pageSizeKiB: 1048576 } },
    });
    const { params } = createParams(vm);
    assert.equal(params.cores, 2);
    assert.equal(params.vcpus, 2);
    assert.equal(params.hotplug, "network,disk,usb,cpu,memory");
    assert.equal(params.numa, 1);
    assert.equal(params.affinity, "2-3");
    assert.equal(params.hugepages, "1024");
    const back = specFromConfig(params as PveConfig, "stopped", vm).spec;
    // As the state holds it (JSON: a key set to undefined is no key).
    const json = (v: unknown) => JSON.parse(JSON.stringify(v));
    assert.deepEqual(json(back.cpu), json(vm.cpu));
    assert.deepEqual(json(back.memory), json(vm.memory));
  });

  it("an update leaves a user's own hotplug features alone while adding and removing NovaCron's", () => {
    const old = spec({ cpu: { cores: 2, maxVcpus: 4 } });
    const next = spec({ cpu: { cores: 2 }, memory: { sizeMiB: 1024, maxMiB: 2048 } });
    const change = updateParams(old, next, { sockets: 1, cores: 4, vcpus: 2, hotplug: "usb,cpu", memory: "1024" });
    assert.equal(change.params.hotplug, "usb,memory");
    assert.equal(change.params.cores, 2);
    assert.equal(change.params.numa, 1);
    assert.deepEqual(change.deletes, ["vcpus"]);
  });
});
