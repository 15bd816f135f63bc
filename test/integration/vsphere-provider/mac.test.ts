import assert from "node:assert/strict";
import { closeAllSessions, connect, MoRef, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { powerOff, readVmDetails, reconfigureVm } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { powerOffEvents, specOf } from "./helpers";

type Props = Record<string, unknown>;

/** Fixed NIC MAC addresses on vSphere: manual addresses in VMware's range, through the provider host. */
describe("vSphere fixed MAC addresses through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-mac");

  const spec = (mac: string): Props => ({
    host: "vc1",
    name,
    memory: { sizeMiB: 256 },
    nics: { net0: { network: "VM Network", mac }, net1: { network: "VM Network" } },
    updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 5 },
  });

  /** The NIC in a slot as the server has it. */
  async function nicOnServer(slot: string): Promise<{ addressType?: string; macAddress?: string }> {
    const details = await readVmDetails(client, new MoRef("VirtualMachine", vm!.id));
    const nic = details.devices.nics.find((n) => n.externalId === `novacron:${slot}`);
    assert.ok(nic, `NIC ${slot} is on the VM`);
    return { addressType: nic.addressType, macAddress: nic.macAddress };
  }

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
      host: "DC0_C0_H0",
      datastore: "LocalDS_0",
      caFile: sim.caFile,
    };
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: vc }) });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  it("refuses a MAC outside VMware's manual range at check, naming the field, the value and the range", async () => {
    const { failures } = await host.check("VirtualMachine", {}, spec("52:54:00:12:34:56"));
    assert.deepEqual(failures, [
      {
        property: "nics.net0.mac",
        reason:
          'got "52:54:00:12:34:56"; VMware vSphere accepts fixed MAC addresses only from 00:50:56:00:00:00 to 00:50:56:3f:ff:ff (VMware\'s range for manually assigned addresses)',
      },
    ]);
    // Just past the top of the range (00:50:56:40:…) is vCenter's own generated block.
    assert.equal((await host.check("VirtualMachine", {}, spec("00:50:56:40:00:00"))).failures[0]?.property, "nics.net0.mac");
    assert.deepEqual((await host.check("VirtualMachine", {}, spec("00:50:56:3F:FF:FF"))).failures, []);
  });

  it("creates a NIC with a manual MAC (read back from the server) next to one vCenter addresses", async () => {
    const { inputs, failures } = await host.check("VirtualMachine", {}, spec("00:50:56:01:02:03"));
    assert.deepEqual(failures, []);
    vm = await host.create("VirtualMachine", inputs);
    assert.deepEqual(await nicOnServer("net0"), { addressType: "manual", macAddress: "00:50:56:01:02:03" });
    assert.notEqual((await nicOnServer("net1")).addressType, "manual");
    const macs = vm.outs.macAddresses as Record<string, string>;
    assert.equal(macs.net0, "00:50:56:01:02:03");
    assert.match(macs.net1!, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((read.inputs.nics as Record<string, Props>).net0!.mac, "00:50:56:01:02:03");
    assert.equal((read.inputs.nics as Record<string, Props>).net1!.mac, undefined, "a generated address is not part of the spec");
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, inputs)).changes, false);
  });

  it("changing the MAC is a cold change: planned so, applied by editing the NIC in one power cycle", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const offBefore = await powerOffEvents(client, ref);
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, spec("00:50:56:3a:bc:de"));
    assert.deepEqual(failures, []);
    assert.deepEqual(inputs.plannedChanges, ["nics.net0.mac: cold (vSphere changes a NIC's MAC address only while the VM is powered off)"]);
    const forbidden = { ...spec("00:50:56:3a:bc:de"), updatePolicy: { allowReboot: false, shutdownTimeoutSeconds: 5 } };
    assert.ok((await host.check("VirtualMachine", old, forbidden)).failures.some((f) => f.property === "nics.net0.mac" && /allowReboot/.test(f.reason)));
    const keyBefore = (await readVmDetails(client, ref)).devices.nics.find((n) => n.externalId === "novacron:net0")?.key;
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    assert.deepEqual(await nicOnServer("net0"), { addressType: "manual", macAddress: "00:50:56:3a:bc:de" });
    const after = await readVmDetails(client, ref);
    assert.equal(after.devices.nics.find((n) => n.externalId === "novacron:net0")?.key, keyBefore, "the same NIC, edited");
    assert.equal(after.state.powerState, "poweredOn");
    assert.equal(await powerOffEvents(client, ref), offBefore + 1);
    assert.equal(vm.outs.lastChangeClass, "cold");
  });

  it("a manual MAC set out of band shows as drift on refresh", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const details = await readVmDetails(client, ref);
    const nic = details.devices.nics.find((n) => n.externalId === "novacron:net1")!;
    await powerOff(client, ref, { timeoutMs: 30_000 });
    await reconfigureVm(
      client,
      ref,
      { ...details.spec, nics: { ...details.spec.nics, net1: { ...details.spec.nics.net1!, macAddress: "00:50:56:00:00:01" } } },
      { timeoutMs: 30_000 },
    );
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    assert.equal((read.inputs.nics as Record<string, Props>).net1!.mac, "00:50:56:00:00:01");
    assert.notEqual(nic.macAddress, "00:50:56:00:00:01");
  });
});
