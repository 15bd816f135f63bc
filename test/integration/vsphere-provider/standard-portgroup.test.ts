import assert from "node:assert/strict";
import { child, closeAllSessions, connect, getProperties, lookup, ManagedObjectNotFoundError, MoRef, text, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { addStandardPortgroup, readHostNetworking, readVm, removeStandardPortgroup, type StandardPortgroup } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { specOf } from "./helpers";

type Props = Record<string, unknown>;

/** Standard (per-ESXi-host) portgroups, and VLAN changes of both kinds, through the provider host; read back over vim25. */
describe("vSphere standard portgroups through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let esxi: MoRef;
  const pgName = uniqueName("nc-spg");

  const onHost = async (name: string): Promise<StandardPortgroup | undefined> => (await readHostNetworking(client, esxi)).portgroups.find((p) => p.name === name);

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
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: { ...vc, host: "DC0_C0_H0" }, vcdrs: vc }) });
    client = await connect(sim.options);
    esxi = await lookup(client, "host", "DC0_C0/DC0_C0_H0", DATACENTER);
  });

  after(async () => {
    await host?.stop();
    await closeAllSessions();
  });

  let pg: { id: string; outs: Props };

  it("makes a portgroup with a VLAN on the pinned host's vSwitch", async () => {
    pg = await host.checkAndCreate("Network", { host: "vc1", name: pgName, mode: "bridge", bridge: "vSwitch0", vlan: 101 });
    assert.equal(pg.id, `HostPortGroup:${esxi.value}/${pgName}`);
    assert.deepEqual(await onHost(pgName), { name: pgName, vlanId: 101, vswitchName: "vSwitch0" });
    const read = await host.read("Network", pg.id, pg.outs);
    assert.equal(read.id, pg.id);
    assert.deepEqual([read.inputs.bridge, read.inputs.vlan], ["vSwitch0", 101]);
    // Made before the crash of an earlier run: adopted, never duplicated.
    assert.equal((await host.checkAndCreate("Network", specOf(pg.outs, "Network"))).id.startsWith("Network:"), true);
  });

  it("a VM NIC plugs into it", async () => {
    const vm = await host.checkAndCreate("VirtualMachine", {
      host: "vc1",
      name: `${pgName}-vm`,
      memory: { sizeMiB: 64 },
      nics: { net0: { network: pgName } },
      powerState: "stopped",
    });
    try {
      const nic = (await readVm(client, new MoRef("VirtualMachine", vm.id))).spec.nics.net0;
      assert.equal(nic?.network.kind === "standard" && nic.network.name, pgName);
    } finally {
      await host.delete("VirtualMachine", vm.id, vm.outs);
    }
  });

  it("a VLAN change is an in-place update (UpdatePortGroup), not a replace", async () => {
    const old = specOf(pg.outs, "Network");
    const { inputs, failures } = await host.check("Network", old, { ...old, vlan: 202 });
    assert.deepEqual(failures, []);
    assert.deepEqual(await host.diff("Network", pg.id, pg.outs, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });
    pg = { id: pg.id, outs: await host.update("Network", pg.id, pg.outs, inputs) };
    assert.equal((await onHost(pgName))?.vlanId, 202);
    const { vlan: _dropped, ...untagged } = specOf(pg.outs, "Network");
    const noVlan = await host.check("Network", specOf(pg.outs, "Network"), untagged);
    pg = { id: pg.id, outs: await host.update("Network", pg.id, pg.outs, noVlan.inputs) };
    assert.equal((await onHost(pgName))?.vlanId, 0);
    assert.equal((await host.read("Network", pg.id, pg.outs)).inputs.vlan, undefined);
  });

  it("delete removes it from the host, and a second delete finds it gone", async () => {
    await host.delete("Network", pg.id, pg.outs);
    assert.equal(await onHost(pgName), undefined);
    await host.delete("Network", pg.id, pg.outs);
    assert.equal((await host.read("Network", pg.id, pg.outs)).id, "", "read reports it gone");
  });

  it("a portgroup someone else made is adopted, its VLAN never changed, and it stays on delete", async () => {
    const theirs = `${pgName}-admin`;
    const { system } = await readHostNetworking(client, esxi);
    await addStandardPortgroup(client, system, { name: theirs, vlanId: 5, vswitchName: "vSwitch0" });
    try {
      const adopted = await host.checkAndCreate("Network", { host: "vc1", name: theirs, mode: "bridge", bridge: "vSwitch0", vlan: 5 });
      assert.match(adopted.id, /^Network:/);
      const old = specOf(adopted.outs, "Network");
      const { inputs } = await host.check("Network", old, { ...old, vlan: 7 });
      await assert.rejects(host.update("Network", adopted.id, adopted.outs, inputs), new RegExp(`vlan: portgroup "${theirs}" was not made by NovaCron`));
      await host.delete("Network", adopted.id, adopted.outs);
      assert.deepEqual(await onHost(theirs), { name: theirs, vlanId: 5, vswitchName: "vSwitch0" }, "it stays, VLAN unchanged");
    } finally {
      await removeStandardPortgroup(client, system, theirs);
    }
  });

  it("a distributed portgroup NovaCron made changes its VLAN in place too, and stays its own", async () => {
    const dvpg = await host.checkAndCreate("Network", { host: "vc1", name: `${pgName}-dv`, mode: "bridge", bridge: "DVS0", vlan: 42 });
    const old = specOf(dvpg.outs, "Network");
    const { inputs } = await host.check("Network", old, { ...old, vlan: 43 });
    assert.deepEqual(await host.diff("Network", dvpg.id, dvpg.outs, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });
    const outs = await host.update("Network", dvpg.id, dvpg.outs, inputs);
    const ref = await lookup(client, "network", `${pgName}-dv`, DATACENTER);
    const setting = (await getProperties(client, ref, ["config.defaultPortConfig"])).props.get("config.defaultPortConfig");
    assert.equal(text(child(setting, "vlan"), "vlanId"), "43");
    assert.equal((await host.read("Network", dvpg.id, outs)).inputs.vlan, 43);
    await host.delete("Network", dvpg.id, outs);
    await assert.rejects(getProperties(client, ref, ["name"]), ManagedObjectNotFoundError, "still marked as NovaCron's after the change");
  });

  it("a standard vSwitch on an entry that pins no ESXi host is refused naming the field", async () => {
    await assert.rejects(
      host.checkAndCreate("Network", { host: "vcdrs", name: `${pgName}-drs`, mode: "bridge", bridge: "vSwitch0" }),
      /bridge: got "vSwitch0"; .*distributed switches: DVS0\).*host "vcdrs" pins no ESXi host.*set `host` in its novacron:hosts entry/,
    );
  });

  it("a bridge naming no switch is refused with the switches that exist", async () => {
    await assert.rejects(
      host.checkAndCreate("Network", { host: "vc1", name: `${pgName}-x`, mode: "bridge", bridge: "vSwitch9" }),
      /bridge: got "vSwitch9"; .*neither a distributed switch \(distributed switches: DVS0\) nor a standard vSwitch of ESXi host DC0_C0_H0 \(its vSwitches: vSwitch0\)/,
    );
    assert.equal(await onHost(`${pgName}-x`), undefined);
  });
});
