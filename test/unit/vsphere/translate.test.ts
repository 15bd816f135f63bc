import assert from "node:assert/strict";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../../provider/core/model";
import { MoRef } from "../../../provider/drivers/vsphere/soap";
import { powerOffReason } from "../../../provider/drivers/vsphere/resources/vm-power";
import { keptCoresPerSocket, observedSpec, toVmSpec } from "../../../provider/drivers/vsphere/translate";
import type { VmState } from "../../../provider/drivers/vsphere/vm";

const last = RESOURCE_MODELS.VirtualMachine.schema.parse({
  host: "vc1",
  name: "web",
  memory: { sizeMiB: 1024 },
  disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4 } },
  nics: { net0: { network: "VM Network" } },
}) as VirtualMachineSpec;

const VM_NETWORK = { kind: "standard", network: { type: "Network", value: "network-7" }, name: "VM Network" } as const;

/** What the device index reports for a VM someone also edited in vCenter: one device of each kind added there. */
const state = {
  ref: { type: "VirtualMachine", value: "vm-42" },
  powerState: "poweredOn",
  host: { type: "HostSystem", value: "host-21" },
  resourcePool: undefined,
  datastores: [],
  template: false,
  toolsRunning: false,
  instanceUuid: undefined,
  snapshots: [],
  ipAddress: undefined,
  diskFiles: { scsi0: "[LocalDS_0] web/web.vmdk", "scsi:1000:3": "[LocalDS_0] web/extra.vmdk" },
  macAddresses: {},
  spec: {
    name: "web",
    numCPUs: 1,
    numCoresPerSocket: 1,
    memoryMB: 1024,
    disks: { scsi0: { sizeGiB: 4, provisioning: "thin" }, "scsi:1000:3": { sizeGiB: 1, provisioning: "thin" } },
    nics: { net0: { network: VM_NETWORK, adapter: "vmxnet3" }, nic1: { network: VM_NETWORK, adapter: "e1000e" }, nic2: { network: VM_NETWORK, adapter: "e1000" } },
    passthrough: { pci0: { id: "0000:00:0f.0", vendorId: 0x15ad, deviceId: "405", systemId: "sys", deviceName: "SVGA" } },
  },
} as unknown as VmState;

describe("vSphere translation: refresh of devices added outside NovaCron", () => {
  it("gives each one the first free model slot, so the refreshed spec is valid state", () => {
    const spec = observedSpec(state, last, "LocalDS_0", (_slot, binding) => ("name" in binding ? binding.name : binding.portgroupKey));
    assert.deepEqual(Object.keys(spec.disks).sort(), ["scsi0", "scsi1"]);
    assert.deepEqual(Object.keys(spec.nics).sort(), ["net0", "net1", "net2"]);
    assert.deepEqual(Object.keys(spec.passthrough), ["hostdev0"]);
    assert.equal(spec.nics.net1.model, "e1000e");
    assert.equal(spec.nics.net2.model, "e1000", "an e1000 added in vCenter is not recorded as vmxnet3 (an adapter change no update can make)");
    const reparsed = RESOURCE_MODELS.VirtualMachine.schema.safeParse(spec);
    assert.ok(reparsed.success, JSON.stringify(reparsed.error?.issues));
  });
});

describe("vSphere translation: vCPU hot-add as sockets", () => {
  const NETS = { net0: { kind: "standard", network: new MoRef("Network", "network-7"), name: "VM Network" } } as const;
  const hotAdd = RESOURCE_MODELS.VirtualMachine.schema.parse({ ...last, cpu: { cores: 2, maxVcpus: 8 }, memory: { sizeMiB: 1024, maxMiB: 4096 } }) as VirtualMachineSpec;

  it("with cpu.maxVcpus each vSphere socket is one core (of cpu.threads), so any count is whole sockets; without it the model's topology is kept", () => {
    const made = toVmSpec(hotAdd, NETS);
    assert.deepEqual([made.numCPUs, made.numCoresPerSocket, made.cpuHotAddEnabled, made.memoryHotAddEnabled], [2, 1, true, true]);
    const smt = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, cores: 2, threads: 2 } }, NETS);
    assert.deepEqual([smt.numCPUs, smt.numCoresPerSocket], [4, 2]);
    const fixed = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, sockets: 2, cores: 3, maxVcpus: undefined } }, NETS);
    assert.deepEqual([fixed.numCPUs, fixed.numCoresPerSocket, fixed.cpuHotAddEnabled], [6, 3, false]);
    const atCeiling = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, cores: 8 } }, NETS);
    assert.equal(atCeiling.cpuHotAddEnabled, true, "reaching the ceiling does not flip the switch, which would need a power-off");
  });

  it("a running VM with hot-add needs no power-off to go from 2 to 4 vCPUs, but does to remove vCPUs", () => {
    const have = toVmSpec(hotAdd, NETS);
    const want = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, cores: 4 } }, NETS);
    assert.equal(powerOffReason(have, want), undefined);
    assert.match(powerOffReason(want, have) ?? "", /removed only while powered off/);
  });

  it("an older VM with 2 cores per socket keeps them when the new count is whole sockets of 2", () => {
    const have = { ...toVmSpec(hotAdd, NETS), numCoresPerSocket: 2 };
    const want4 = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, cores: 4 } }, NETS);
    assert.equal(keptCoresPerSocket(have, want4), 2);
    assert.equal(powerOffReason(have, { ...want4, numCoresPerSocket: keptCoresPerSocket(have, want4) }), undefined);
    const want3 = toVmSpec({ ...hotAdd, cpu: { ...hotAdd.cpu, cores: 3 } }, NETS);
    assert.equal(keptCoresPerSocket(have, want3), 1);
    assert.match(powerOffReason(have, { ...want3, numCoresPerSocket: keptCoresPerSocket(have, want3) }) ?? "", /cores per socket/);
  });

  it("refresh reads 4 one-core sockets back as the spec's 1 socket of 4 cores, and an out-of-band count as cores", () => {
    const grown = { ...hotAdd, cpu: { ...hotAdd.cpu, cores: 4 } };
    const read = (numCPUs: number, spec = grown) =>
      observedSpec({ ...state, spec: { ...state.spec, numCPUs, numCoresPerSocket: 1, cpuHotAddEnabled: true, memoryHotAddEnabled: true } }, spec, "LocalDS_0", () => "VM Network")
        .cpu;
    assert.deepEqual([read(4).sockets, read(4).cores, read(4).threads, read(4).maxVcpus], [1, 4, 1, 8]);
    assert.deepEqual([read(6).sockets, read(6).cores], [1, 6]);
    const twoSockets = { ...grown, cpu: { ...grown.cpu, sockets: 2, cores: 2 } };
    assert.deepEqual([read(4, twoSockets).sockets, read(4, twoSockets).cores], [2, 2]);
    assert.deepEqual([read(5, twoSockets).sockets, read(5, twoSockets).cores], [1, 5], "a count that is not whole model sockets reads as one socket");
  });
});

describe("vSphere translation: boot order and tuning vSphere has no place for", () => {
  const binding = { kind: "standard", network: new MoRef("Network", "network-7"), name: "VM Network" } as const;
  const parse = (extra: Record<string, unknown>) => RESOURCE_MODELS.VirtualMachine.schema.parse({ ...last, ...extra }) as VirtualMachineSpec;

  it("orders disks and NICs by one bootOrder sequence; none gives an empty order", () => {
    const spec = parse({
      disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4, bootOrder: 3 }, scsi1: { pool: "LocalDS_0", sizeGiB: 1 } },
      nics: { net0: { network: "VM Network", bootOrder: 1 } },
    });
    assert.deepEqual(toVmSpec(spec, { net0: binding }).bootOrder, [
      { kind: "nic", slot: "net0" },
      { kind: "disk", slot: "scsi0" },
    ]);
    assert.deepEqual(toVmSpec(last, { net0: binding }).bootOrder, []);
  });

  it("refuses QEMU's disk and NIC tuning by field instead of dropping it", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4, cache: "writeback" } } }, /disks\.scsi0\.cache: got "writeback"; ESXi does not cache/],
      [{ disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4, discard: "unmap" } } }, /disks\.scsi0\.discard: got "unmap"/],
      [{ disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4, readOnly: true } } }, /disks\.scsi0\.readOnly: got true/],
      [{ nics: { net0: { network: "VM Network", queues: 4 } } }, /nics\.net0\.queues: got 4; vSphere's vmxnet3/],
      [{ memory: { sizeMiB: 1024, balloon: { minMiB: 512 } } }, /memory\.balloon\.minMiB: /],
    ];
    for (const [extra, error] of cases) assert.throws(() => toVmSpec(parse(extra), { net0: binding }), error);
    // The defaults pass: cache none (or the hypervisor's), one queue, a balloon without a floor.
    assert.doesNotThrow(() =>
      toVmSpec(parse({ memory: { sizeMiB: 1024, balloon: {} }, disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 4, cache: "hypervisor-default" } } }), { net0: binding }),
    );
  });
});
