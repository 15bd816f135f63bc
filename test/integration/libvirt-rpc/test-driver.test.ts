// Breadth over libvirt's test driver, served by the real libvirtd through its
// unix socket: every object kind the provider manages, round-tripped through
// our client and cross-checked with virsh where the daemon's view matters.
import assert from "node:assert/strict";
import { LibvirtClient, LibvirtError, type DomainLifecycleEvent, typedParamsToObject } from "../../../provider/drivers/libvirt/rpc";
import { useLibvirtTestbed, uniqueName, virsh, waitFor } from "./testbed";

const URI = "test+unix:///default";
const AFFECT_CONFIG = 2;
const STATE_RUNNING = 1;
const STATE_PAUSED = 3;
const STATE_SHUTOFF = 5;

function domainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory unit='KiB'>65536</memory><vcpu>2</vcpu>` + `<os><type arch='x86_64'>hvm</type></os></domain>`;
}

async function rejectsWith(p: Promise<unknown>, check: (e: LibvirtError) => boolean, what: string): Promise<LibvirtError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LibvirtError, `${what}: expected LibvirtError, got ${String(e)}`);
    assert.ok(check(e), `${what}: unexpected error code ${e.code} (${e.codeName}): ${e.message}`);
    return e;
  }
  throw new Error(`${what}: expected rejection`);
}

describe("libvirt RPC: test driver over the unix socket", () => {
  useLibvirtTestbed();
  let c: LibvirtClient;

  before(async () => {
    c = await LibvirtClient.connect(URI);
  });
  after(async () => {
    await c?.close();
  });

  it("opens the connection with the transport stripped from the name", async () => {
    assert.equal((await c.call("connectGetUri")).uri, "test:///default");
    assert.equal((await c.call("connectGetType")).type, "TEST");
  });

  it("reads host facts: versions, hostname, capabilities, node info, cell memory", async () => {
    const lib = (await c.call("connectGetLibVersion")).lib_ver;
    // libvirt encodes versions as major*1e6+minor*1e3+micro; this testbed is 9.x.
    assert.equal(lib / 1000000n, 9n);
    assert.equal((await c.call("connectGetVersion")).hv_ver, 2n);
    assert.ok((await c.call("connectGetHostname")).hostname.length > 0);
    assert.match((await c.call("connectGetCapabilities")).capabilities, /<capabilities>[\s\S]*<host>/);
    const info = await c.call("nodeGetInfo");
    assert.equal(info.model, "i686");
    assert.equal(info.cpus, 16);
    const { cells } = await c.call("nodeGetCellsFreeMemory", { startCell: 0, maxcells: 2 });
    assert.equal(cells.length, 2);
    assert.ok(cells.every((x) => x > 0n));
  });

  it("maps missing objects to typed not-found errors", async () => {
    const missing = uniqueName("missing");
    await rejectsWith(c.call("domainLookupByName", { name: missing }), (e) => e.isNotFound() && e.codeName === "NO_DOMAIN", "domain");
    await rejectsWith(c.call("networkLookupByName", { name: missing }), (e) => e.isNotFound() && e.codeName === "NO_NETWORK", "network");
    await rejectsWith(c.call("storagePoolLookupByName", { name: missing }), (e) => e.isNotFound() && e.codeName === "NO_STORAGE_POOL", "pool");
    await rejectsWith(c.call("nodeDeviceLookupByName", { name: missing }), (e) => e.isNotFound() && e.codeName === "NO_NODE_DEVICE", "nodedev");
    await rejectsWith(c.call("domainDefineXml", { xml: "<domain" }), (e) => e.codeName === "XML_ERROR" || e.codeName === "XML_DETAIL", "bad xml");
  });

  it("manages a domain's whole lifecycle and delivers lifecycle events in order", async () => {
    const name = uniqueName("dom");
    const events: DomainLifecycleEvent[] = [];
    const onEvent = (ev: DomainLifecycleEvent): void => {
      if (ev.domain.name === name) events.push(ev);
    };
    c.on("domainLifecycle", onEvent);
    const unsubscribe = await c.subscribeDomainLifecycle();
    try {
      const { dom } = await c.call("domainDefineXmlFlags", { xml: domainXml(name), flags: 0 });
      assert.equal(dom.name, name);
      assert.equal((await c.call("domainLookupByUuid", { uuid: dom.uuid })).dom.name, name);
      assert.match(virsh(URI, "domstate", name), /shut off/);

      const started = (await c.call("domainCreateWithFlags", { dom, flags: 0 })).dom;
      assert.ok(started.id > 0, "a running domain has an id");
      assert.deepEqual(await c.call("domainGetState", { dom, flags: 0 }), { state: STATE_RUNNING, reason: 1 });
      assert.match(virsh(URI, "domstate", name), /running/);

      await c.call("domainSuspend", { dom });
      assert.equal((await c.call("domainGetState", { dom, flags: 0 })).state, STATE_PAUSED);
      await c.call("domainResume", { dom });

      await c.call("domainSetVcpusFlags", { dom, nvcpus: 1, flags: AFFECT_CONFIG });
      await c.call("domainSetMemoryFlags", { dom, memory: 32768n, flags: AFFECT_CONFIG });
      const cfgXml = (await c.call("domainGetXmlDesc", { dom, flags: 2 /* INACTIVE */ })).xml;
      assert.match(cfgXml, /<vcpu[^>]*current='1'[^>]*>2<\/vcpu>/);
      assert.match(cfgXml, /<currentMemory unit='KiB'>32768<\/currentMemory>/);

      const info = await c.call("domainGetInfo", { dom });
      assert.equal(info.state, STATE_RUNNING);
      assert.equal(info.maxMem, 65536n);

      const { domains } = await c.call("connectListAllDomains", { need_results: 1, flags: 1 /* ACTIVE */ });
      assert.ok(domains.some((d) => d.name === name));

      const stats = await c.call("connectGetAllDomainStats", { doms: [dom], stats: 1 /* STATE */, flags: 0 });
      assert.equal(stats.retStats.length, 1);
      assert.equal(typedParamsToObject(stats.retStats[0].params)["state.state"], STATE_RUNNING);

      await c.call("domainManagedSave", { dom, flags: 0 });
      assert.equal((await c.call("domainHasManagedSaveImage", { dom, flags: 0 })).result, true);
      assert.equal((await c.call("domainGetState", { dom, flags: 0 })).state, STATE_SHUTOFF);
      await c.call("domainManagedSaveRemove", { dom, flags: 0 });
      assert.equal((await c.call("domainHasManagedSaveImage", { dom, flags: 0 })).result, false);

      await c.call("domainCreateWithFlags", { dom, flags: 0 });
      // The test driver reports this as an internal error (qemu uses OPERATION_INVALID).
      await rejectsWith(c.call("domainCreateWithFlags", { dom, flags: 0 }), (e) => /already running/.test(e.message), "start twice");
      await c.call("domainDestroyFlags", { dom, flags: 0 });
      await c.call("domainUndefineFlags", { dom, flags: 0 });
      await rejectsWith(c.call("domainLookupByName", { name }), (e) => e.isNotFound(), "after undefine");

      const expected = ["defined", "started", "suspended", "resumed", "stopped", "started", "stopped", "undefined"];
      await waitFor(
        () => events.length,
        (n) => n >= expected.length,
        5000,
        "lifecycle events",
      );
      assert.deepEqual(
        events.map((e) => e.eventName),
        expected,
      );
      // detail 4 = STOPPED_SAVED (managed save), 1 = STOPPED_DESTROYED.
      assert.deepEqual([events[4].detail, events[6].detail], [4, 1]);
      assert.ok(events.every((e) => e.domain.uuid === dom.uuid));
    } finally {
      c.off("domainLifecycle", onEvent);
      await unsubscribe();
    }
  });

  it("creates transient domains and reboots/shuts them down", async () => {
    const name = uniqueName("transient");
    const { dom } = await c.call("domainCreateXml", { xml_desc: domainXml(name), flags: 0 });
    assert.equal((await c.call("domainIsPersistent", { dom })).persistent, false);
    await c.call("domainReboot", { dom, flags: 0 });
    await c.call("domainShutdownFlags", { dom, flags: 0 });
    // A transient domain disappears once it stops.
    await rejectsWith(c.call("domainLookupByName", { name }), (e) => e.isNotFound(), "transient gone");
  });

  it("takes, lists, reverts and deletes snapshots", async () => {
    const name = uniqueName("snap");
    const { dom } = await c.call("domainDefineXml", { xml: domainXml(name) });
    try {
      await c.call("domainCreate", { dom });
      const { snap } = await c.call("domainSnapshotCreateXml", {
        dom,
        xml_desc: "<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>",
        flags: 0,
      });
      assert.equal(snap.name, "s1");
      await c.call("domainDestroy", { dom });
      const { snapshots, ret } = await c.call("domainListAllSnapshots", { dom, need_results: 1, flags: 0 });
      assert.equal(ret, 1);
      assert.deepEqual(
        snapshots.map((s) => s.name),
        ["s1"],
      );
      const found = (await c.call("domainSnapshotLookupByName", { dom, name: "s1", flags: 0 })).snap;
      assert.match((await c.call("domainSnapshotGetXmlDesc", { snap: found, flags: 0 })).xml, /<description>first<\/description>/);
      // The snapshot captured a running domain: reverting brings it back up.
      await c.call("domainRevertToSnapshot", { snap: found, flags: 0 });
      assert.equal((await c.call("domainGetState", { dom, flags: 0 })).state, STATE_RUNNING);
      await c.call("domainSnapshotDelete", { snap: found, flags: 0 });
      await rejectsWith(c.call("domainSnapshotLookupByName", { dom, name: "s1", flags: 0 }), (e) => e.codeName === "NO_DOMAIN_SNAPSHOT" && e.isNotFound(), "deleted snapshot");
      await c.call("domainDestroy", { dom });
    } finally {
      await c.call("domainUndefineFlags", { dom, flags: 2 /* SNAPSHOTS_METADATA */ });
    }
  });

  it("manages storage pools and volumes, including clones", async () => {
    const poolName = uniqueName("pool");
    const poolXml = `<pool type='dir'><name>${poolName}</name><target><path>/nonexistent/${poolName}</path></target></pool>`;
    const { pool } = await c.call("storagePoolDefineXml", { xml: poolXml, flags: 0 });
    try {
      assert.equal((await c.call("storagePoolLookupByUuid", { uuid: pool.uuid })).pool.name, poolName);
      await c.call("storagePoolBuild", { pool, flags: 0 });
      await c.call("storagePoolCreate", { pool, flags: 0 });
      await c.call("storagePoolRefresh", { pool, flags: 0 });
      const pinfo = await c.call("storagePoolGetInfo", { pool });
      assert.equal(pinfo.state, 2 /* RUNNING */);
      assert.ok(pinfo.capacity > 0n);
      assert.match((await c.call("storagePoolGetXmlDesc", { pool, flags: 0 })).xml, new RegExp(`<name>${poolName}</name>`));
      const { pools } = await c.call("connectListAllStoragePools", { need_results: 1, flags: 0 });
      assert.ok(pools.some((p) => p.name === poolName));

      const volXml = `<volume><name>v1.img</name><capacity unit='MiB'>16</capacity><allocation>0</allocation></volume>`;
      const { vol } = await c.call("storageVolCreateXml", { pool, xml: volXml, flags: 0 });
      assert.equal(vol.name, "v1.img");
      assert.equal((await c.call("storageVolLookupByName", { pool, name: "v1.img" })).vol.key, vol.key);
      assert.equal((await c.call("storageVolLookupByKey", { key: vol.key })).vol.name, "v1.img");
      const path = (await c.call("storageVolGetPath", { vol })).name;
      assert.equal((await c.call("storageVolLookupByPath", { path })).vol.name, "v1.img");
      assert.equal((await c.call("storagePoolLookupByVolume", { vol })).pool.name, poolName);
      assert.equal((await c.call("storageVolGetInfo", { vol })).capacity, 16n << 20n);
      assert.match((await c.call("storageVolGetXmlDesc", { vol, flags: 0 })).xml, /<capacity unit='bytes'>16777216<\/capacity>/);

      const cloneXml = `<volume><name>v2.img</name><capacity unit='MiB'>32</capacity></volume>`;
      const { vol: clone } = await c.call("storageVolCreateXmlFrom", { pool, xml: cloneXml, clonevol: vol, flags: 0 });
      assert.equal(clone.name, "v2.img");
      const { vols, ret } = await c.call("storagePoolListAllVolumes", { pool, need_results: 1, flags: 0 });
      assert.equal(ret, 2);
      assert.deepEqual(vols.map((v) => v.name).sort(), ["v1.img", "v2.img"]);

      // The test driver has no wipe; the error must come back typed, not break the connection.
      await c.call("storageVolWipe", { vol, flags: 0 }).catch((e: unknown) => {
        assert.ok(e instanceof LibvirtError && e.isUnsupported(), String(e));
      });
      await c.call("storageVolDelete", { vol: clone, flags: 0 });
      await c.call("storageVolDelete", { vol, flags: 0 });
      assert.equal((await c.call("storagePoolListAllVolumes", { pool, need_results: 1, flags: 0 })).ret, 0);
      await c.call("storagePoolDestroy", { pool });
      assert.equal((await c.call("storagePoolIsActive", { pool })).active, false);
    } catch (e) {
      await c.call("storagePoolDestroy", { pool }).catch(() => undefined);
      throw e;
    } finally {
      await c.call("storagePoolUndefine", { pool });
    }
    await rejectsWith(c.call("storagePoolLookupByName", { name: poolName }), (e) => e.isNotFound(), "undefined pool");
  });

  it("manages networks", async () => {
    const name = uniqueName("net").slice(0, 15);
    const xml =
      `<network><name>${name}</name><bridge name='${name.slice(0, 12)}'/>` +
      `<ip address='10.99.1.1' netmask='255.255.255.0'><dhcp><range start='10.99.1.10' end='10.99.1.20'/></dhcp></ip></network>`;
    const { net } = await c.call("networkDefineXml", { xml });
    try {
      await c.call("networkCreate", { net });
      assert.equal((await c.call("networkIsActive", { net })).active, true);
      await c.call("networkSetAutostart", { net, autostart: true });
      assert.equal((await c.call("networkGetAutostart", { net })).autostart, true);
      assert.match((await c.call("networkGetXmlDesc", { net, flags: 0 })).xml, /10\.99\.1\.10/);
      assert.equal((await c.call("networkLookupByName", { name })).net.uuid, net.uuid);
      const { nets } = await c.call("connectListAllNetworks", { need_results: 1, flags: 0 });
      assert.ok(nets.some((n) => n.name === name));
      // The test driver has no DHCP server (leases are covered on qemu:///system).
      await rejectsWith(c.call("networkGetDhcpLeases", { net, mac: null, need_results: 1, flags: 0 }), (e) => e.isUnsupported(), "leases");
      await c.call("networkDestroy", { net });
    } finally {
      await c.call("networkUndefine", { net });
    }
  });

  it("lists and inspects node devices; passthrough verbs report typed errors", async () => {
    const { devices, ret } = await c.call("connectListAllNodeDevices", { need_results: 1, flags: 0 });
    assert.equal(devices.length, ret);
    assert.ok(devices.some((d) => d.name === "computer"));
    const { dev } = await c.call("nodeDeviceLookupByName", { name: "computer" });
    assert.match((await c.call("nodeDeviceGetXmlDesc", { name: dev.name, flags: 0 })).xml, /<name>computer<\/name>/);
    // The test driver cannot detach PCI devices; the call must fail cleanly.
    await rejectsWith(c.call("nodeDeviceDetachFlags", { name: "computer", driverName: null, flags: 0 }), (e) => e.isUnsupported(), "detach");
    await rejectsWith(c.call("nodeDeviceReAttach", { name: "computer" }), (e) => e.isUnsupported(), "reattach");
    await rejectsWith(c.call("nodeDeviceReset", { name: "computer" }), (e) => e.isUnsupported(), "reset");
  });

  it("multiplexes many concurrent calls on one connection", async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? c.call("domainLookupByName", { name: "test" }).then((r) => r.dom.name) : c.call("connectGetHostname").then(() => "test"))),
    );
    assert.ok(results.every((r) => r === "test"));
    assert.equal(c.conn.inFlight, 0);
  });
});
