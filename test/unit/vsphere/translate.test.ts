import assert from "node:assert/strict";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../../provider/core/model";
import { observedSpec } from "../../../provider/drivers/vsphere/translate";
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
