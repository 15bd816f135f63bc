import assert from "node:assert/strict";
import { PassthroughDeviceInputs } from "../../../provider/core/model";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveApiError } from "../../../provider/drivers/proxmox/api/errors";
import { type HostPci, MAPPING_MARK, mappingId, mappingParams } from "../../../provider/drivers/proxmox/resources/passthrough";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { PveSchema } from "./contract";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

/** A GPU as PVE's hardware listing shows one (our own example values, in PVE's shapes: 0x-prefixed ids). */
const GPU: HostPci = {
  id: "0000:01:00.0",
  class: "0x030000",
  vendor: "0x10de",
  device: "0x1eb8",
  iommugroup: 12,
  subsystem_vendor: "0x10de",
  subsystem_device: "0x12a2",
  device_name: "TU104GL [Tesla T4]",
};

/**
 * PassthroughDevice on Proxmox VE: a PCI cluster resource mapping, and a VM's hostpciN naming it.
 * What fakepve 0.5.0 can show: it keeps VM configs, so a VM's `hostpci0=mapping=…` is read back;
 * it keeps no mappings (a POST to /cluster/mapping/pci is checked against PVE's schema, then
 * dropped, and every mapping reads back as an empty object) and its hardware listing is one
 * placeholder device. So a PassthroughDevice create here ends at the device lookup with a clear
 * error, and the mapping request itself is tested against the schema (ours and fakepve's), never
 * read back from a server: that part is untested against a PVE.
 */
describe("Proxmox VE: PCI passthrough through resource mappings (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  const made: { kind: "VirtualMachine"; id: string; outs: Props }[] = [];

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
  });
  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses USB devices, managed: false, a slot past hostpci15 and a device that is no mapping name, naming each field", async () => {
    const usb = await host.check("PassthroughDevice", {}, { host: "pve", kind: "usb", vendorDevice: "046d:c52b" });
    assert.match(JSON.stringify(usb.failures), /USB mappings \(\/cluster\/mapping\/usb\) are not made yet/);
    const unmanaged = await host.check("PassthroughDevice", {}, { host: "pve", kind: "pci", pciAddress: "0000:01:00.0", managed: false });
    assert.deepEqual(
      unmanaged.failures.map((f) => f.property),
      ["managed"],
    );
    const vm = await host.check(
      "VirtualMachine",
      {},
      { host: "pve", name: "pt", memory: { sizeMiB: 64 }, passthrough: { hostdev16: { device: "gpu0" }, hostdev0: { device: "0000:01:00.0" } } },
    );
    assert.deepEqual(vm.failures.map((f) => f.property).sort(), ["passthrough.hostdev0.device", "passthrough.hostdev16"]);
    assert.match(JSON.stringify(vm.failures), /the name of a PCI resource mapping such as \\"nc_pve1_0000_01_00_0\\"/);
  });

  it("a create looks the device up on the node first: fakepve lists only a placeholder, so it ends there naming pciAddress, and nothing is recorded", async () => {
    await assert.rejects(host.checkAndCreate("PassthroughDevice", { host: "pve", kind: "gpu", pciAddress: "0000:01:00.0" }), (e: Error) => {
      assert.match(e.message, /pciAddress: got "0000:01:00\.0"; node pve1 lists no such PCI device \(it lists fake /);
      assert.equal((e as Error & { id?: string }).id, undefined, "no id recorded");
      return true;
    });
  });

  it("the mapping request is valid per PVE's schema (our checker and fakepve's); fakepve stores no mapping, which the read-back shows", async () => {
    const spec = PassthroughDeviceInputs.parse({ host: "pve", kind: "gpu", pciAddress: "0000:01:00.0" });
    const id = mappingId(pve.node, spec);
    assert.equal(id, "nc_pve1_0000_01_00_0");
    const params = mappingParams(id, pve.node, GPU);
    assert.deepEqual(params.map, ["node=pve1,path=0000:01:00.0,id=10de:1eb8,iommugroup=12,subsystem-id=10de:12a2"]);
    assert.ok(params.description.startsWith(MAPPING_MARK));
    if (PveSchema.available()) {
      const schema = PveSchema.load();
      const { map, ...rest } = params;
      assert.deepEqual(schema.problems({ method: "POST", path: "/cluster/mapping/pci", params: rest, lists: { map } }), []);
      assert.deepEqual(schema.problems({ method: "DELETE", path: `/cluster/mapping/pci/${id}`, params: {} }), []);
      // The checker refuses what PVE refuses, so the pass above means something.
      assert.match(
        schema.problems({ method: "POST", path: "/cluster/mapping/pci", params: rest, lists: { map: ["node=pve1,path=01:00.0,id=10de:1eb8"] } }).join(),
        /path: does not match/,
      );
    }
    // fakepve checks the same request (each map item against its format) and accepts it…
    assert.equal(await api.post("/cluster/mapping/pci", { ...params, id: `${id}_${process.pid}` }), null);
    await assert.rejects(api.post("/cluster/mapping/pci", { ...params, map: ["node=pve1,path=01:00.0,id=10de:1eb8"] }), (e: unknown) => {
      assert.ok(e instanceof PveApiError);
      assert.match(JSON.stringify(e.fieldErrors), /map\[0\].*path: value does not match the regex pattern/);
      return true;
    });
    // …but keeps nothing: what a real PVE would answer with the entry, fakepve answers empty.
    assert.deepEqual(await api.get(`/cluster/mapping/pci/${id}_${process.pid}`), {});
  });

  it("a VM takes a mapped device as hostpci0=mapping=…: written, read back from the VM's config, and removed again", async () => {
    const name = uniqueName("pt");
    const vm = await host.checkAndCreate("VirtualMachine", {
      host: "pve",
      name,
      memory: { sizeMiB: 64 },
      powerState: "stopped",
      passthrough: { hostdev0: { device: "nc_pve1_0000_01_00_0", romBar: false } },
    });
    made.push({ kind: "VirtualMachine", ...vm });
    const config = async () => api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${vm.id}/config`);
    assert.equal((await config()).hostpci0, "mapping=nc_pve1_0000_01_00_0,pcie=1,rombar=0", "PCIe on the default q35 machine, ROM BAR off");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(read.inputs.passthrough, { hostdev0: { device: "nc_pve1_0000_01_00_0", romBar: false } });
    const inputs = specOf(vm.outs);
    const diff = await host.diff("VirtualMachine", vm.id, vm.outs, read.inputs);
    assert.equal(diff.changes, false, "refresh reads back what was written: no diff");
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, { ...inputs, passthrough: {} });
    made[made.length - 1].outs = outs;
    assert.equal((await config()).hostpci0, undefined, "removed from the config");
  });
});
