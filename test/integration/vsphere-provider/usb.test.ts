import assert from "node:assert/strict";
import { child, closeAllSessions, connect, getProperties, lookup, MoRef, num, text, xsiType, type VimClient, type XNode } from "../../../provider/drivers/vsphere/soap";
import { readVmDetails } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost, type ProviderCallError } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { powerOffEvents, specOf } from "./helpers";

type Props = Record<string, unknown>;

/** The VM's devices as vCenter lists them (config.hardware.device). */
async function hardware(client: VimClient, vm: MoRef): Promise<readonly XNode[]> {
  const config = (await getProperties(client, vm, ["config.hardware.device"])).props.get("config.hardware.device");
  return config?.children ?? [];
}

/**
 * Host USB devices on vSphere through the provider host. The testbed's simulator extension
 * (test/testbeds/vcsim/usb.go) has every ESXi host offer a Logitech receiver (046d:c52b, port
 * 1/0/1) and a SanDisk stick (0781:5567, port 2/0/3) in the config target's usb list, which is
 * where vCenter tells clients what its hosts' USB arbitrators offer to VMs.
 */
describe("vSphere USB passthrough through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let esx: MoRef;
  let receiver: { id: string; outs: Props };
  let stick: { id: string; outs: Props };
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-usb");

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
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: { ...vc, host: "DC0_C0_H0" }, vc1b: { ...vc, host: "DC0_C0_H1" } }) });
    client = await connect(sim.options);
    esx = await lookup(client, "host", "DC0_C0/DC0_C0_H0", DATACENTER);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  it("finds a USB device the ESXi host offers by vendor:product and names it by host and port", async () => {
    receiver = await host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "usb", vendorDevice: "046d:c52b" });
    assert.equal(receiver.id, `${esx.value}/usb:1/0/1`);
    const observed = receiver.outs.observed as Props;
    assert.deepEqual([observed.vendorId, observed.productId, observed.path, observed.name], ["046d", "c52b", "1/0/1", "Logitech Unifying Receiver"]);
    stick = await host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "usb", vendorDevice: "0781:5567" });
    assert.equal(stick.id, `${esx.value}/usb:2/0/3`);
    assert.equal((await host.read("PassthroughDevice", receiver.id, receiver.outs)).id, receiver.id);
  });

  it("refuses a USB device the host does not offer, listing the ones it does", async () => {
    await assert.rejects(host.checkAndCreate("PassthroughDevice", { host: "vc1", kind: "usb", vendorDevice: "1234:abcd" }), (e: ProviderCallError) => {
      assert.match(
        e.message,
        /vendorDevice: got "1234:abcd"; ESXi host DC0_C0_H0 offers no such USB device to VMs \(offered: 046d:c52b Logitech Unifying Receiver at port 1\/0\/1, 0781:5567 SanDisk Cruzer Blade at port 2\/0\/3\)/,
      );
      return true;
    });
  });

  it("a VM with the device gets an xHCI controller and a VirtualUSB backed by the host port, without a memory reservation", async () => {
    const { inputs, failures } = await host.check(
      "VirtualMachine",
      {},
      {
        host: "vc1",
        name,
        memory: { sizeMiB: 512 },
        passthrough: { hostdev0: { device: receiver.id } },
        updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 5 },
      },
    );
    assert.deepEqual(failures, []);
    vm = await host.create("VirtualMachine", inputs);
    const ref = new MoRef("VirtualMachine", vm.id);
    const devices = await hardware(client, ref);
    const controllers = devices.filter((d) => xsiType(d) === "VirtualUSBXHCIController");
    const usb = devices.filter((d) => xsiType(d) === "VirtualUSB");
    assert.equal(controllers.length, 1);
    assert.equal(usb.length, 1);
    assert.equal(num(usb[0], "controllerKey"), num(controllers[0], "key"), "the device sits on the controller added with it");
    const backing = child(usb[0], "backing");
    assert.deepEqual([xsiType(backing), text(backing, "deviceName")], ["VirtualUSBUSBBackingInfo", "path:1/0/1 vid:0x046d pid:0xc52b"]);
    assert.deepEqual([num(usb[0], "vendor"), num(usb[0], "product")], [0x046d, 0xc52b]);
    const details = await readVmDetails(client, ref);
    assert.equal(details.spec.memoryReservationLockedToMax, false, "USB devices need no memory reservation");
    assert.equal(details.state.powerState, "poweredOn");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(read.inputs.passthrough, { hostdev0: { device: receiver.id, romBar: true } });
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, inputs)).changes, false);
  });

  it("another device in a second slot joins the same controller; a host change is refused (no vMotion with local USB backings)", async () => {
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, passthrough: { ...(old.passthrough as Props), hostdev1: { device: stick.id } } });
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["passthrough.hostdev1: cold"],
    );
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    const devices = await hardware(client, new MoRef("VirtualMachine", vm.id));
    const controllers = devices.filter((d) => xsiType(d) === "VirtualUSBXHCIController");
    assert.equal(controllers.length, 1, "vSphere allows one USB controller");
    const paths = devices
      .filter((d) => xsiType(d) === "VirtualUSB")
      .map((d) => text(child(d, "backing"), "deviceName"))
      .sort();
    assert.deepEqual(paths, ["path:1/0/1 vid:0x046d pid:0xc52b", "path:2/0/3 vid:0x0781 pid:0x5567"]);
    const moved = specOf(vm.outs);
    const move = await host.check("VirtualMachine", moved, { ...moved, host: "vc1b" });
    assert.match(move.failures.map((f) => `${f.property}: ${f.reason}`).join("\n"), /^host: .*host USB devices on a local backing/m);
  });

  it("removing a slot removes that VirtualUSB only, powered off and back on", async () => {
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, passthrough: { hostdev1: { device: stick.id } } });
    assert.deepEqual(failures, []);
    const offBefore = await powerOffEvents(client, new MoRef("VirtualMachine", vm!.id));
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    const devices = await hardware(client, new MoRef("VirtualMachine", vm.id));
    assert.deepEqual(
      devices.filter((d) => xsiType(d) === "VirtualUSB").map((d) => text(child(d, "backing"), "deviceName")),
      ["path:2/0/3 vid:0x0781 pid:0x5567"],
    );
    const details = await readVmDetails(client, new MoRef("VirtualMachine", vm.id));
    assert.equal(details.state.powerState, "poweredOn");
    assert.equal(await powerOffEvents(client, new MoRef("VirtualMachine", vm.id)), offBefore + 1, "the cold change powered the VM off once");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual(read.inputs.passthrough, { hostdev1: { device: stick.id, romBar: true } });
  });
});
