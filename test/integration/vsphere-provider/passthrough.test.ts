import assert from "node:assert/strict";
import { closeAllSessions, connect, getProperties, lookup, MoRef, text, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { readVmDetails } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost, type ProviderCallError } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * PCI passthrough (DirectPath I/O) on vSphere through the provider host. The testbed's simulator
 * extension (test/testbeds/vcsim/passthrough.go) marks the SVGA adapter 0000:00:0f.0 and VMCI
 * 0000:00:07.7 capable, enabled and active, the bridge 0000:00:07.3 enabled but waiting for a host
 * reboot, the IDE controller 0000:00:07.1 capable only, and the host bridge 0000:00:00.0 not capable.
 */
describe("vSphere PCI passthrough through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let esx: MoRef;
  let gpu: { id: string; outs: Props };
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-pt");

  before(async function () {
    this.timeout(300_000); // a fresh machine builds the simulator first
    const sim = vcsim();
    const vc = {
      driver: "vsphere",
      url: sim.url,
      username: sim.username,
      password: sim.password,
      datacenter: DATACENTER,
      cluster: "DC0_C0",
      datastore: "LocalDS_0",
      caFile: sim.caFile,
    };
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: { ...vc, host: "DC0_C0_H0" }, vc1b: { ...vc, host: "DC0_C0_H1" }, drs: vc }) });
    client = await connect(sim.options);
    esx = await lookup(client, "host", "DC0_C0/DC0_C0_H0", DATACENTER);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  it("finds an enabled device by PCI address (a GPU: class 0300) and by vendor:device", async () => {
    gpu = await host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "gpu", pciAddress: "0000:00:0f.0" });
    assert.equal(gpu.id, `${esx.value}/0000:00:0f.0`);
    const observed = gpu.outs.observed as Props;
    assert.deepEqual([observed.vendorId, observed.deviceId, observed.classId, observed.passthruEnabled], ["15ad", "0405", "0300", true]);
    const vmci = await host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "pci", vendorDevice: "15ad:0740" });
    assert.equal(vmci.id, `${esx.value}/0000:00:07.7`);
    const byClass = await host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "gpu", vendorDevice: "15ad:0405/0300" });
    assert.equal(byClass.id, gpu.id);
    assert.equal((await host.read("PassthroughDevice", gpu.id, gpu.outs)).id, gpu.id);
  });

  it("refuses a device that is not passthrough-capable, capable but not enabled, or enabled but not active yet, naming the field and the device", async () => {
    await assert.rejects(host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "pci", pciAddress: "0000:00:00.0" }), (e: ProviderCallError) => {
      assert.match(e.message, /pciAddress: got "0000:00:00\.0"; device 0000:00:00\.0 \(8086:7190\/0600 .*\) on ESXi host DC0_C0_H0 is not passthrough-capable/);
      return true;
    });
    await assert.rejects(
      host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "pci", vendorDevice: "8086:7111" }),
      /vendorDevice: got "8086:7111"; device 0000:00:07\.1 .* is passthrough-capable but not enabled for passthrough.*NovaCron only adopts enabled devices/,
    );
    await assert.rejects(
      host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "pci", pciAddress: "0000:00:07.3" }),
      /pciAddress: got "0000:00:07\.3"; device 0000:00:07\.3 .* is enabled for passthrough but not active yet: ESXi applies the setting at the next host reboot/,
    );
    await assert.rejects(
      host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "gpu", pciAddress: "0000:00:07.7" }),
      /kind: got "gpu" but device 0000:00:07\.7 .* has PCI class 0880/,
    );
    await assert.rejects(
      host.checkAndCreate("PassthroughDevice", { host: "drs", kind: "pci", pciAddress: "0000:00:07.7" }),
      /names no ESXi host; a passthrough device belongs to one ESXi host/,
    );
  });

  it("SR-IOV functions stay refused at check with vSphere's reason (USB devices: usb.test.ts)", async () => {
    const vf = await host.check("PassthroughDevice", {}, { host: "vc1", kind: "sriov-vf", pciAddress: "0000:00:07.7" });
    assert.ok(
      vf.failures.some((f) => f.property === "kind" && /SR-IOV/.test(f.reason)),
      JSON.stringify(vf.failures),
    );
  });

  it("a VM with the device gets a VirtualPCIPassthrough with the host's backing and memory locked to its size", async () => {
    const { inputs, failures } = await host.check(
      "VirtualMachine",
      {},
      {
        host: "vc1",
        name,
        memory: { sizeMiB: 512 },
        passthrough: { hostdev0: { device: gpu.id } },
        updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 5 },
      },
    );
    assert.deepEqual(failures, []);
    vm = await host.create("VirtualMachine", inputs);
    const ref = new MoRef("VirtualMachine", vm.id);
    const details = await readVmDetails(client, ref);
    const uuid = text((await getProperties(client, esx, ["hardware.systemInfo.uuid"])).props.get("hardware.systemInfo.uuid"));
    assert.equal(details.devices.pci.length, 1);
    const [device] = details.devices.pci;
    assert.deepEqual(
      { id: device!.id, vendorId: device!.vendorId, deviceId: device!.deviceId, systemId: device!.systemId, deviceName: device!.deviceName },
      { id: "0000:00:0f.0", vendorId: "15ad", deviceId: "0405", systemId: uuid, deviceName: "SVGA II Adapter" },
    );
    const backing = device!.raw.children.find((c) => c.name === "backing");
    assert.equal(text(backing, "deviceId"), "405", "deviceId travels as a hex string");
    assert.equal(text(backing, "vendorId"), String(0x15ad));
    assert.equal(details.spec.memoryReservationLockedToMax, true);
    assert.equal(details.state.powerState, "poweredOn");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(read.inputs.passthrough, { hostdev0: { device: gpu.id, romBar: true } });
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, inputs)).changes, false);
  });

  it("a host change of a passthrough VM is refused at preview (no vMotion), and at apply", async () => {
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, host: "vc1b" });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["host"],
    );
    assert.match(failures[0]!.reason, /got "vc1b"; this VM holds passthrough devices \(passthrough\.hostdev0\): vSphere cannot vMotion a VM with DirectPath I\/O devices/);
    await assert.rejects(host.update("VirtualMachine", vm!.id, vm!.outs, inputs), /holds passthrough devices; vSphere cannot vMotion it/);
  });

  it("removing the device is a cold change applied powered off; memory is unlocked with it", async () => {
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, passthrough: {} });
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["passthrough.hostdev0: cold"],
    );
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    const details = await readVmDetails(client, new MoRef("VirtualMachine", vm.id));
    assert.deepEqual([details.devices.pci.length, details.spec.memoryReservationLockedToMax, details.state.powerState], [0, false, "poweredOn"]);
  });
});
