import assert from "node:assert/strict";
import { VSPHERE_CAPABILITIES } from "../../../provider/drivers/vsphere/capabilities";
import { openVsphereDriver } from "../../../provider/drivers/vsphere/driver";
import { closeAllSessions, connect, lookup, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { ProviderHost, type ProviderCallError } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";

/** Host entries and the inventory NovaCron adopts rather than makes, through the provider host. */
describe("vSphere host entries, datastores and portgroups through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;

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
      caFile: sim.caFile,
    };
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: vc, vcbad: { ...vc, password: "not-the-password" } }) });
    client = await connect(sim.options);
  });

  after(async () => {
    await host?.stop();
    await closeAllSessions();
  });

  it("wrong credentials fail create once with a clear error", async () => {
    const started = Date.now();
    const { inputs } = await host.check("VirtualMachine", {}, { host: "vcbad", name: uniqueName("nc-bad"), memory: { sizeMiB: 64 } });
    await assert.rejects(host.create("VirtualMachine", inputs), (e: ProviderCallError) => {
      assert.match(e.message, /host "vcbad": cannot log in to vSphere at https:\/\/127\.0\.0\.1:\d+\/sdk: .*InvalidLogin.*not retried.*fix username\/password/);
      assert.doesNotMatch(e.message, /not-the-password/);
      return true;
    });
    // A retry loop would run to the operation's deadline (minutes); the bound is loose because
    // the machine is shared and a single check + create can take seconds under load.
    assert.ok(Date.now() - started < 20_000, "one refused Login, no retry loop");
  });

  it("adopts an existing datastore and distributed portgroup and leaves them on delete; refuses a portgroup it cannot make", async () => {
    const ds = await host.checkAndCreate("StoragePool", { host: "vc1", name: "LocalDS_0", kind: "datastore", adopt: true });
    assert.equal((await host.read("StoragePool", ds.id, ds.outs)).id, ds.id);
    assert.equal(ds.outs.state, "accessible");
    assert.ok(Number(ds.outs.capacityBytes) > 0);
    const pg = await host.checkAndCreate("Network", { host: "vc1", name: "DC0_DVPG0", mode: "bridge", bridge: "DVS0" });
    assert.match(pg.id, /^DistributedVirtualPortgroup:/);
    assert.equal((await host.read("Network", pg.id, pg.outs)).inputs.bridge, "DVS0");
    await assert.rejects(
      host.checkAndCreate("Network", { host: "vc1", name: "no-such-pg", mode: "bridge", bridge: "no-such-switch" }),
      /portgroup "no-such-pg" does not exist .*neither a distributed switch .* nor a standard vSwitch/,
    );
    await assert.rejects(host.checkAndCreate("StoragePool", { host: "vc1", name: "LocalDS_0", kind: "datastore" }), /carries no NovaCron ownership mark.*adopt: true/);
    await assert.rejects(host.checkAndCreate("StoragePool", { host: "vc1", name: "NoSuchDS", kind: "datastore" }), /NovaCron does not create vSphere datastores/);
    await host.delete("StoragePool", ds.id, ds.outs);
    await host.delete("Network", pg.id, pg.outs);
    assert.ok(await lookup(client, "datastore", "LocalDS_0", DATACENTER), "the datastore stays");
    assert.ok(await lookup(client, "network", "DC0_DVPG0", DATACENTER), "the adopted portgroup stays");
  });

  it("reports the pinned host's capabilities from the host itself", async () => {
    const sim = vcsim();
    const driver = await openVsphereDriver("vc1", {
      driver: "vsphere",
      url: sim.url,
      username: sim.username,
      password: sim.password,
      datacenter: DATACENTER,
      cluster: "DC0_C0",
      host: "DC0_C0_H0",
      caFile: sim.caFile,
      insecure: false,
    });
    const caps = await driver.hostCapabilities();
    assert.equal(caps.driver, "vsphere");
    assert.ok(caps.cpus > 0 && caps.memoryMiB > 0, JSON.stringify(caps));
    assert.equal(caps.capabilities.liveMigration, true, "the testbed's hosts report vMotion");
    assert.equal(caps.capabilities.limits.maxVcpus, 768);
    assert.equal(caps.capabilities.cpuPinning, VSPHERE_CAPABILITIES.cpuPinning);
    const svga = caps.devices.find((d) => d.address === "0000:00:0f.0");
    assert.deepEqual(svga, { name: "0000:00:0f.0", address: "0000:00:0f.0", vendor: "15ad", product: "0405", class: "0300", driver: "passthrough" });
  });
});
