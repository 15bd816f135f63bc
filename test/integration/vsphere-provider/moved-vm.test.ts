import assert from "node:assert/strict";
import { closeAllSessions, connect, lookup, MoRef, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { relocateVm } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { hostOf, specOf } from "./helpers";

type Props = Record<string, unknown>;

/** Refresh of a VM vMotioned outside Pulumi (DRS, an admin) to another ESXi host of the same vCenter. */
describe("vSphere refresh follows an out-of-band host move (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  const made: { id: string; outs: Props }[] = [];
  const name = uniqueName("nc-moved");

  const esxi = (h: string) => lookup(client, "host", `DC0_C0/${h}`, DATACENTER);
  const moveOutOfBand = async (vm: string, h: string) => relocateVm(client, new MoRef("VirtualMachine", vm), { host: await esxi(h) });
  const spec = (entry: string, suffix: string): Props => ({ host: entry, name: `${name}-${suffix}`, memory: { sizeMiB: 64 }, powerState: "running" });

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
      caFile: sim.caFile,
      datastore: "LocalDS_0",
    };
    host = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({
        vc1: { ...vc, host: "DC0_C0_H0" },
        // Listed first and pinning the same host as vc1b: refresh prefers vc1b, which keeps the datastore.
        vc1bOtherDs: { ...vc, host: "DC0_C0_H1", datastore: "LocalDS_1" },
        vc1b: { ...vc, host: "DC0_C0_H1" },
        vcdrs: vc,
      }),
    });
    client = await connect(sim.options);
  });

  after(async () => {
    for (const vm of made) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  it("a VM vMotioned to a host another entry pins is read with that entry, and the next up plans the way back as a migration", async () => {
    const vm = await host.checkAndCreate("VirtualMachine", spec("vc1", "pinned"));
    made.push(vm);
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", vm.id)), "DC0_C0_H0");
    await moveOutOfBand(vm.id, "DC0_C0_H1");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(read.id, vm.id);
    assert.equal(read.inputs.host, "vc1b");
    const program = specOf(vm.outs);
    const { inputs, failures } = await host.check("VirtualMachine", specOf(read.props), program);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["host: migrate"],
    );
    assert.deepEqual(await host.diff("VirtualMachine", vm.id, read.props, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });
    const outs = await host.update("VirtualMachine", vm.id, read.props, inputs);
    made[0] = { id: vm.id, outs };
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", vm.id)), "DC0_C0_H0", "vMotioned back");
    assert.equal((await host.read("VirtualMachine", vm.id, outs)).inputs.host, "vc1");
  });

  it("a move to a host no entry pins keeps the recorded entry", async () => {
    const vm = made[0]!;
    await moveOutOfBand(vm.id, "DC0_C0_H2");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(read.inputs.host, "vc1");
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", vm.id)), "DC0_C0_H2", "refresh moves nothing");
  });

  it("a DRS move of a VM whose entry pins only the cluster is not drift", async () => {
    const vm = await host.checkAndCreate("VirtualMachine", spec("vcdrs", "drs"));
    made.push(vm);
    const now = await hostOf(client, new MoRef("VirtualMachine", vm.id));
    await moveOutOfBand(vm.id, now === "DC0_C0_H1" ? "DC0_C0_H0" : "DC0_C0_H1");
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(read.inputs.host, "vcdrs");
    const { inputs } = await host.check("VirtualMachine", specOf(read.props), specOf(vm.outs));
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, inputs)).changes, false);
  });
});
