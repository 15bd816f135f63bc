import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { classifyChange, refuseForbiddenRestarts } from "../../../provider/core/classify";
import { VirtualMachineInputs, type VirtualMachineSpec } from "../../../provider/core/model";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { HOSTS, VALID_INPUTS } from "./fixtures";

const base = VirtualMachineInputs.parse({
  ...VALID_INPUTS.VirtualMachine,
  cpu: { cores: 2, maxVcpus: 4 },
  memory: { sizeMiB: 1024, maxMiB: 2048 },
});

function edit(change: (vm: VirtualMachineSpec) => void): VirtualMachineSpec {
  const next = structuredClone(base);
  change(next);
  return VirtualMachineInputs.parse(next);
}

function classOf(next: VirtualMachineSpec, driver: "libvirt" | "vsphere" | "hyperv" = "libvirt", old = base) {
  const plan = classifyChange("VirtualMachine", old, next, capabilitiesOf(driver));
  return Object.fromEntries(plan.changes.map((c) => [c.path, c.disruption]));
}

describe("classification table (libvirt unless named)", () => {
  const table: [string, (vm: VirtualMachineSpec) => void, Record<string, string>][] = [
    [
      "memory within maxMiB is live",
      (vm) => {
        vm.memory.sizeMiB = 1536;
      },
      { "memory.sizeMiB": "live" },
    ],
    [
      "memory beyond maxMiB reboots",
      (vm) => {
        vm.memory.sizeMiB = 4096;
        vm.memory.maxMiB = 4096;
      },
      { "memory.sizeMiB": "reboot", "memory.maxMiB": "reboot" },
    ],
    [
      "vCPUs within maxVcpus hot-plug",
      (vm) => {
        vm.cpu.cores = 4;
      },
      { "cpu.cores": "hotplug" },
    ],
    [
      "vCPUs beyond maxVcpus reboot",
      (vm) => {
        vm.cpu.cores = 8;
        vm.cpu.maxVcpus = 8;
      },
      { "cpu.cores": "reboot", "cpu.maxVcpus": "reboot" },
    ],
    [
      "pinning is live on libvirt",
      (vm) => {
        vm.cpu.pinning = { "0": "1" };
      },
      { "cpu.pinning": "live" },
    ],
    [
      "CPU mode reboots",
      (vm) => {
        vm.cpu.mode = "host-passthrough";
      },
      { "cpu.mode": "reboot" },
    ],
    [
      "a new virtio disk hot-plugs",
      (vm) => {
        vm.disks.vdb = { bus: "virtio-blk", volume: "x", cache: "none", readOnly: false };
      },
      { "disks.vdb": "hotplug" },
    ],
    [
      "a new SATA disk needs power-off",
      (vm) => {
        vm.disks.sata0 = { bus: "sata", volume: "x", cache: "none", readOnly: false };
      },
      { "disks.sata0": "cold" },
    ],
    [
      "cache mode is cold",
      (vm) => {
        vm.disks.vda.cache = "writeback";
      },
      { "disks.vda.cache": "cold" },
    ],
    [
      "a new NIC hot-plugs",
      (vm) => {
        vm.nics.net1 = { model: "virtio", queues: 1, network: "lab" };
      },
      { "nics.net1": "hotplug" },
    ],
    [
      "moving a NIC to another network is live",
      (vm) => {
        vm.nics.net0.network = "dmz";
      },
      { "nics.net0.network": "live" },
    ],
    [
      "renaming replaces",
      (vm) => {
        vm.name = "web2";
      },
      { name: "replace" },
    ],
    [
      "BIOS to UEFI replaces",
      (vm) => {
        vm.firmware.type = "uefi";
      },
      { "firmware.type": "replace" },
    ],
    [
      "host change on the same kind migrates",
      (vm) => {
        vm.host = "kvm2";
      },
      { host: "migrate" },
    ],
    [
      "labels are live",
      (vm) => {
        vm.labels = { team: "web" };
      },
      { labels: "live" },
    ],
    [
      "update policy is recorded only",
      (vm) => {
        vm.updatePolicy.allowReboot = true;
      },
      { updatePolicy: "none" },
    ],
  ];
  for (const [title, change, expected] of table) {
    it(title, () => assert.deepEqual(classOf(edit(change)), expected));
  }

  it("reordering disks and NICs changes nothing", () => {
    const a = VirtualMachineInputs.parse({ ...VALID_INPUTS.VirtualMachine, disks: { vda: { volume: "a" }, vdb: { volume: "b" } } });
    const b = VirtualMachineInputs.parse({ ...VALID_INPUTS.VirtualMachine, disks: { vdb: { volume: "b" }, vda: { volume: "a" } } });
    assert.deepEqual(classifyChange("VirtualMachine", a, b, capabilitiesOf("libvirt")).changes, []);
  });

  it("a move to another hypervisor kind is a cold cross-hypervisor migrate, never a replace (see cross-move-plan.test.ts)", () => {
    const plan = classifyChange(
      "VirtualMachine",
      base,
      edit((vm) => {
        vm.host = "vc1";
      }),
      capabilitiesOf("vsphere"),
      true,
    );
    assert.deepEqual(plan.replaces, []);
    assert.equal(plan.worst, "migrate");
  });

  it("drivers override the neutral rules: vSphere hot-adds sockets and removes vCPUs or memory cold, Hyper-V cannot hot-add vCPUs", () => {
    assert.deepEqual(
      classOf(
        edit((vm) => {
          vm.cpu.sockets = 2;
          vm.cpu.cores = 1;
        }),
        "vsphere",
      ),
      { "cpu.sockets": "hotplug", "cpu.cores": "cold" },
    );
    assert.deepEqual(
      classOf(
        edit((vm) => {
          vm.memory.sizeMiB = 1536;
        }),
        "vsphere",
      ),
      { "memory.sizeMiB": "hotplug" },
    );
    assert.deepEqual(
      classOf(
        edit((vm) => {
          vm.memory.sizeMiB = 512;
        }),
        "vsphere",
      ),
      { "memory.sizeMiB": "cold" },
    );
    assert.deepEqual(
      classOf(
        edit((vm) => {
          vm.cpu.cores = 4;
        }),
        "hyperv",
      ),
      { "cpu.cores": "reboot" },
    );
  });

  it("cpu.maxVcpus and memory.maxMiB mean the same on KVM and vSphere: within them growth is live, past them a reboot, whatever the driver's hot-add rule", () => {
    // The README's example: `cpu: { cores: 2, maxVcpus: 8 }`, then `cores: 4`.
    const readme = VirtualMachineInputs.parse({ ...VALID_INPUTS.VirtualMachine, cpu: { cores: 2, maxVcpus: 8 }, memory: { sizeMiB: 2048, maxMiB: 8192 } });
    const to = (change: (vm: VirtualMachineSpec) => void) => {
      const next = structuredClone(readme);
      change(next);
      return VirtualMachineInputs.parse(next);
    };
    const cores4 = to((vm) => {
      vm.cpu.cores = 4;
    });
    assert.deepEqual(classOf(cores4, "libvirt", readme), { "cpu.cores": "hotplug" });
    assert.deepEqual(classOf(cores4, "vsphere", readme), { "cpu.cores": "hotplug" });
    const cores10 = to((vm) => {
      vm.cpu.cores = 10;
      vm.cpu.maxVcpus = 10;
    });
    for (const driver of ["libvirt", "vsphere"] as const) assert.equal(classOf(cores10, driver, readme)["cpu.cores"], "reboot", driver);
    const mem4g = to((vm) => {
      vm.memory.sizeMiB = 4096;
    });
    assert.deepEqual(classOf(mem4g, "libvirt", readme), { "memory.sizeMiB": "live" });
    assert.deepEqual(classOf(mem4g, "vsphere", readme), { "memory.sizeMiB": "hotplug" });
    const mem16g = to((vm) => {
      vm.memory.sizeMiB = 16384;
      vm.memory.maxMiB = 16384;
    });
    for (const driver of ["libvirt", "vsphere"] as const) assert.equal(classOf(mem16g, driver, readme)["memory.sizeMiB"], "reboot", driver);
    // Without a ceiling there is no live growth on either.
    const noCeiling = VirtualMachineInputs.parse({ ...VALID_INPUTS.VirtualMachine, cpu: { cores: 2 }, memory: { sizeMiB: 2048 } });
    const grown = VirtualMachineInputs.parse({ ...VALID_INPUTS.VirtualMachine, cpu: { cores: 4 }, memory: { sizeMiB: 4096 } });
    for (const driver of ["libvirt", "vsphere"] as const) {
      assert.deepEqual(classOf(grown, driver, noCeiling), { "cpu.cores": "reboot", "memory.sizeMiB": "reboot" }, driver);
    }
    // What a hypervisor cannot do live needs a restart there: removing vCPUs is cold on vSphere,
    // and a reboot on KVM, where QEMU cannot unplug the vCPUs the guest booted with (decision 0019).
    assert.deepEqual(classOf(readme, "vsphere", cores4), { "cpu.cores": "cold" });
    assert.deepEqual(classOf(readme, "libvirt", cores4), { "cpu.cores": "reboot" });
  });

  it("only replace-class fields are reported as replaces", () => {
    const plan = classifyChange(
      "VirtualMachine",
      base,
      edit((vm) => {
        vm.memory.sizeMiB = 1536;
        vm.name = "other";
      }),
      capabilitiesOf("libvirt"),
    );
    assert.deepEqual(plan.replaces, ["name"]);
    assert.equal(plan.worst, "replace");
  });
});

describe("update policy: restarts need consent", () => {
  it("refuses a reboot-class change on a running VM and says how to allow it", () => {
    const next = edit((vm) => {
      vm.cpu.mode = "host-passthrough";
    });
    const plan = classifyChange("VirtualMachine", base, next, capabilitiesOf("libvirt"));
    const [failure] = refuseForbiddenRestarts(plan, base, next);
    assert.equal(failure.property, "cpu.mode");
    assert.match(failure.reason, /updatePolicy.allowReboot: true/);
  });

  it("allows it with allowReboot, or when the VM is stopped", () => {
    const allowed = edit((vm) => {
      vm.cpu.mode = "host-passthrough";
      vm.updatePolicy.allowReboot = true;
    });
    assert.deepEqual(refuseForbiddenRestarts(classifyChange("VirtualMachine", base, allowed, capabilitiesOf("libvirt")), base, allowed), []);
    const stoppedOld = edit((vm) => {
      vm.powerState = "stopped";
    });
    const stoppedNext = edit((vm) => {
      vm.powerState = "stopped";
      vm.cpu.mode = "host-passthrough";
    });
    assert.deepEqual(refuseForbiddenRestarts(classifyChange("VirtualMachine", stoppedOld, stoppedNext, capabilitiesOf("libvirt")), stoppedOld, stoppedNext), []);
  });

  it("check() reports the refusal and the planned changes for preview", () => {
    const refused = checkInputs("VirtualMachine", base, { ...base, cpu: { ...base.cpu, mode: "host-passthrough" } }, HOSTS, capabilitiesOf);
    assert.equal(refused.failures[0].property, "cpu.mode");
    const live = checkInputs("VirtualMachine", base, { ...base, memory: { ...base.memory, sizeMiB: 1536 } }, HOSTS, capabilitiesOf);
    assert.deepEqual(live.failures, []);
    assert.match(String((live.inputs.plannedChanges as string[])[0]), /^memory.sizeMiB: live/);
  });
});
