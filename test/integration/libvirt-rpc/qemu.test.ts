// Real QEMU (TCG) through the real libvirtd on qemu:///system: a tiny
// diskless guest driven through its lifecycle, QMP passthrough, device
// updates, byte-exact volume upload/download over libvirt streams, and a live
// peer-to-peer migration to a second libvirtd.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LibvirtClient, LibvirtError, type DomainRef, typedParamsToObject } from "../../../provider/drivers/libvirt/rpc";
import { useLibvirtTestbed, uniqueName, virsh, waitFor } from "./testbed";

const URI = "qemu:///system";
const AFFECT_CONFIG = 2;

function tinyDomainXml(name: string): string {
  // No /dev/kvm here, so type='qemu' (TCG). No disk: the guest idles in firmware.
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features/>
  <on_poweroff>destroy</on_poweroff>
</domain>`;
}

describe("libvirt RPC: QEMU domains, streams and migration on qemu:///system", function () {
  this.timeout(120_000);
  useLibvirtTestbed();
  let c: LibvirtClient;

  before(async () => {
    c = await LibvirtClient.connect(URI);
  });
  after(async () => {
    await c?.close();
  });

  describe("a TCG guest", () => {
    const name = uniqueName("nc-rpc-qemu");
    let dom: DomainRef;

    after(async () => {
      // Leave nothing behind even when an assertion failed midway.
      const found = await c.call("domainLookupByName", { name }).catch(() => null);
      if (found) {
        await c.call("domainDestroyFlags", { dom: found.dom, flags: 0 }).catch(() => undefined);
        await c.call("domainUndefineFlags", { dom: found.dom, flags: 0 }).catch(() => undefined);
      }
    });

    it("is defined, started and visible to virsh", async () => {
      dom = (await c.call("domainDefineXmlFlags", { xml: tinyDomainXml(name), flags: 0 })).dom;
      assert.match(virsh(URI, "list", "--all", "--name"), new RegExp(`^${name}$`, "m"));
      const started = await c.call("domainCreateWithFlags", { dom, flags: 0 });
      dom = started.dom;
      assert.ok(dom.id > 0);
      assert.match(virsh(URI, "domstate", name), /^running/);
      assert.equal(virsh(URI, "domid", name).trim(), String(dom.id));
    });

    it("reports live XML, info and stats that match the definition", async () => {
      const xml = (await c.call("domainGetXmlDesc", { dom, flags: 0 })).xml;
      assert.match(xml, new RegExp(`<domain type='qemu' id='${dom.id}'>`));
      assert.match(xml, /<memory unit='KiB'>65536<\/memory>/);
      assert.match(xml, /machine='pc-i440fx-[^']+'/, "libvirt expands the machine alias");
      assert.match(xml, /<on_poweroff>destroy<\/on_poweroff>/);
      const info = await c.call("domainGetInfo", { dom });
      assert.equal(info.state, 1);
      assert.equal(info.maxMem, 65536n);
      assert.equal(info.nrVirtCpu, 1);
      const { retStats } = await c.call("connectGetAllDomainStats", { doms: [dom], stats: 1 | 2 /* STATE|CPU_TOTAL */, flags: 0 });
      const st = typedParamsToObject(retStats[0].params);
      assert.equal(st["state.state"], 1);
      assert.equal(typeof st["cpu.time"], "bigint");
      const job = await c.call("domainGetJobStats", { dom, flags: 0 });
      assert.equal(job.type, 0, "no job running");
    });

    it("reads domain capabilities for TCG on this host", async () => {
      const { capabilities } = await c.call("connectGetDomainCapabilities", {
        emulatorbin: null,
        arch: "x86_64",
        machine: "pc",
        virttype: "qemu",
        flags: 0,
      });
      assert.match(capabilities, /<domain>qemu<\/domain>/);
      assert.match(capabilities, /<arch>x86_64<\/arch>/);
      assert.match(capabilities, /<path>\/usr\/bin\/qemu-system-x86_64<\/path>/);
    });

    it("passes QMP through the QEMU program", async () => {
      const reply = JSON.parse(await c.qemuMonitorCommand(dom, { execute: "query-status" })) as { return: { status: string; running: boolean } };
      assert.deepEqual([reply.return.status, reply.return.running], ["running", true]);
      const hmp = await c.qemuMonitorCommand(dom, "info status", 1 /* HMP */);
      assert.match(hmp, /VM status: running/);
    });

    it("suspends and resumes as QEMU sees it", async () => {
      await c.call("domainSuspend", { dom });
      const paused = JSON.parse(await c.qemuMonitorCommand(dom, { execute: "query-status" })) as { return: { status: string } };
      assert.equal(paused.return.status, "paused");
      await c.call("domainResume", { dom });
      assert.match(virsh(URI, "domstate", name), /^running/);
    });

    it("attaches, updates and detaches a NIC in the persistent config", async () => {
      const mac = "52:54:00:7e:57:01";
      const nic = (extra: string): string => `<interface type='user'><mac address='${mac}'/><model type='virtio'/>${extra}</interface>`;
      await c.call("domainAttachDeviceFlags", { dom, xml: nic(""), flags: AFFECT_CONFIG });
      const inactive = (): Promise<string> => c.call("domainGetXmlDesc", { dom, flags: 2 /* INACTIVE */ }).then((r) => r.xml);
      assert.match(await inactive(), new RegExp(mac));
      assert.match(virsh(URI, "domiflist", name, "--inactive"), new RegExp(mac));
      await c.call("domainUpdateDeviceFlags", { dom, xml: nic("<link state='down'/>"), flags: AFFECT_CONFIG });
      assert.match(await inactive(), /<link state='down'\/>/);
      await c.call("domainDetachDeviceFlags", { dom, xml: nic(""), flags: AFFECT_CONFIG });
      assert.doesNotMatch(await inactive(), new RegExp(mac));
      await c.call("domainSetVcpusFlags", { dom, nvcpus: 1, flags: AFFECT_CONFIG });
      await c.call("domainSetMemoryFlags", { dom, memory: 49152n, flags: AFFECT_CONFIG });
      assert.match(await inactive(), /<currentMemory unit='KiB'>49152<\/currentMemory>/);
      await c.call("domainMigrateSetMaxDowntime", { dom, downtime: 250n, flags: 0 });
    });

    it("is destroyed and undefined, and virsh agrees", async () => {
      await c.call("domainDestroyFlags", { dom, flags: 0 });
      assert.match(virsh(URI, "domstate", name), /^shut off/);
      await c.call("domainUndefineFlags", { dom, flags: 0 });
      assert.doesNotMatch(virsh(URI, "list", "--all", "--name"), new RegExp(`^${name}$`, "m"));
      await assert.rejects(c.call("domainLookupByName", { name }), (e: unknown) => e instanceof LibvirtError && e.codeName === "NO_DOMAIN");
    });
  });

  describe("volume streams on a dir pool", () => {
    const poolName = uniqueName("nc-rpc-pool");
    const dir = mkdtempSync(join(tmpdir(), "nc-rpc-pool-"));
    const poolXml = `<pool type='dir'><name>${poolName}</name><target><path>${dir}</path></target></pool>`;

    after(async () => {
      const found = await c.call("storagePoolLookupByName", { name: poolName }).catch(() => null);
      if (found) {
        const vols = await c.call("storagePoolListAllVolumes", { pool: found.pool, need_results: 1, flags: 0 }).catch(() => null);
        for (const vol of vols?.vols ?? []) await c.call("storageVolDelete", { vol, flags: 0 }).catch(() => undefined);
        await c.call("storagePoolDestroy", { pool: found.pool }).catch(() => undefined);
        await c.call("storagePoolUndefine", { pool: found.pool }).catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it("uploads then downloads several MiB byte-for-byte, and manages the volume", async () => {
      const { pool } = await c.call("storagePoolDefineXml", { xml: poolXml, flags: 0 });
      await c.call("storagePoolBuild", { pool, flags: 0 });
      await c.call("storagePoolCreate", { pool, flags: 0 });
      // Not a multiple of the 256 KiB stream packet, so the last packet is partial.
      const data = randomBytes(6 * 1024 * 1024 + 12345);
      const volXml = `<volume><name>blob.raw</name><capacity unit='bytes'>${data.length}</capacity>` + `<target><format type='raw'/></target></volume>`;
      const { vol } = await c.call("storageVolCreateXml", { pool, xml: volXml, flags: 0 });

      // Feed it as an async stream of odd-sized pieces to exercise re-chunking.
      async function* pieces(): AsyncGenerator<Buffer> {
        for (let off = 0; off < data.length; off += 1_000_003) yield data.subarray(off, off + 1_000_003);
      }
      const sent = await c.volUpload(vol, pieces());
      assert.equal(sent, data.length);
      const path = (await c.call("storageVolGetPath", { vol })).name;
      const digest = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
      assert.equal(digest(readFileSync(path)), digest(data), "bytes on disk equal the upload");

      const back = await c.volDownloadToBuffer(vol);
      assert.equal(back.length, data.length);
      assert.ok(back.equals(data), "download round-trips the exact bytes");

      const part = await c.volDownloadToBuffer(vol, { offset: 1000n, length: 5000n });
      assert.ok(part.equals(data.subarray(1000, 6000)), "ranged download");

      await c.call("storagePoolRefresh", { pool, flags: 0 });
      const info = await c.call("storageVolGetInfo", { vol });
      assert.equal(info.capacity, BigInt(data.length));
      await c.call("storageVolResize", { vol, capacity: 8n << 20n, flags: 0 });
      assert.equal((await c.call("storageVolGetInfo", { vol })).capacity, 8n << 20n);
      await c.call("storageVolWipe", { vol, flags: 0 });
      const wiped = readFileSync(path);
      assert.ok(
        wiped.subarray(0, 1 << 20).every((b) => b === 0),
        "wipe zeroed the data",
      );
      const { vol: clone } = await c.call("storageVolCreateXmlFrom", {
        pool,
        xml: `<volume><name>clone.raw</name><capacity unit='bytes'>${8 << 20}</capacity><target><format type='raw'/></target></volume>`,
        clonevol: vol,
        flags: 0,
      });
      assert.equal(readFileSync(join(dir, "clone.raw")).length, 8 << 20);
      await c.call("storageVolDelete", { vol: clone, flags: 0 });
      await c.call("storageVolDelete", { vol, flags: 0 });
      assert.throws(() => readFileSync(path), /ENOENT/);
    });

    it("reports an upload the daemon rejects as a typed error and stays usable", async () => {
      const { pool } = await c.call("storagePoolLookupByName", { name: poolName });
      const { vol } = await c.call("storageVolCreateXml", {
        pool,
        xml: `<volume><name>small.raw</name><capacity unit='bytes'>4096</capacity><target><format type='raw'/></target></volume>`,
        flags: 0,
      });
      // Unknown flags are refused before any data flows; the upload must reject, not hang.
      await assert.rejects(c.volUpload(vol, Buffer.alloc(4096), { flags: 0x80 }), (e: unknown) => e instanceof LibvirtError && e.isInvalidArg());
      assert.equal((await c.call("connectGetUri")).uri, URI);
      await c.call("storageVolDelete", { vol, flags: 0 });
    });
  });

  describe("a real isolated network with dnsmasq", () => {
    const name = uniqueName("ncnet").slice(0, 15);
    const bridge = `ncbr${process.pid % 100000}`;

    after(async () => {
      const found = await c.call("networkLookupByName", { name }).catch(() => null);
      if (found) {
        await c.call("networkDestroy", { net: found.net }).catch(() => undefined);
        await c.call("networkUndefine", { net: found.net }).catch(() => undefined);
      }
    });

    it("is defined, started, autostarted and reports DHCP leases", async () => {
      const xml =
        `<network><name>${name}</name><bridge name='${bridge}'/>` +
        `<ip address='10.98.${process.pid % 200}.1' netmask='255.255.255.0'><dhcp><range start='10.98.${process.pid % 200}.10' end='10.98.${process.pid % 200}.20'/></dhcp></ip></network>`;
      const { net } = await c.call("networkDefineXml", { xml });
      await c.call("networkCreate", { net });
      assert.match(virsh(URI, "net-list", "--name"), new RegExp(`^${name}$`, "m"));
      await c.call("networkSetAutostart", { net, autostart: true });
      assert.match(virsh(URI, "net-info", name), /Autostart:\s+yes/);
      assert.equal((await c.call("networkGetBridgeName", { net })).name, bridge);
      // libvirt answers lease queries from the status file its dnsmasq lease
      // helper maintains; writing an entry there stands in for a booted guest.
      const expiry = Math.floor(Date.now() / 1000) + 3600;
      writeFileSync(
        `/var/lib/libvirt/dnsmasq/${bridge}.status`,
        JSON.stringify([
          { "ip-address": `10.98.${process.pid % 200}.15`, "mac-address": "52:54:00:00:00:15", hostname: "guest15", "client-id": "01:52:54:00:00:00:15", "expiry-time": expiry },
        ]),
      );
      const { leases, ret } = await c.call("networkGetDhcpLeases", { net, mac: null, need_results: 1, flags: 0 });
      assert.equal(ret, 1);
      assert.deepEqual(leases[0], {
        iface: bridge,
        expirytime: BigInt(expiry),
        type: 0 /* IPv4 */,
        mac: "52:54:00:00:00:15",
        iaid: null,
        ipaddr: `10.98.${process.pid % 200}.15`,
        prefix: 24,
        hostname: "guest15",
        clientid: "01:52:54:00:00:00:15",
      });
      const none = await c.call("networkGetDhcpLeases", { net, mac: "52:54:00:99:99:99", need_results: 1, flags: 0 });
      assert.equal(none.ret, 0);
      await c.call("networkDestroy", { net });
      await c.call("networkUndefine", { net });
      assert.doesNotMatch(virsh(URI, "net-list", "--all", "--name"), new RegExp(`^${name}$`, "m"));
    });
  });

  describe("peer-to-peer live migration to a second libvirtd", function () {
    this.timeout(900_000);
    const name = uniqueName("nc-rpc-mig");
    let peerUri = "";

    before(() => {
      const script = resolve(__dirname, "../../testbeds/libvirt-peer.sh");
      const out = execFileSync("bash", [script, "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 900_000 });
      peerUri = out.trim().split("\n").at(-1) ?? "";
      assert.match(peerUri, /^qemu\+tcp:\/\//);
    });

    after(() => {
      for (const uri of [URI, peerUri]) {
        try {
          virsh(uri, "destroy", name);
        } catch {
          /* already gone */
        }
        try {
          virsh(uri, "undefine", name);
        } catch {
          /* not defined */
        }
      }
    });

    it("moves a running guest with MIGRATE_PERFORM3_PARAMS and reads job stats", async () => {
      const { dom } = await c.call("domainCreateXml", { xml_desc: tinyDomainXml(name), flags: 0 });
      const peerHost = new URL(peerUri.replace(/^qemu\+tcp/, "http")).hostname;
      const LIVE = 1;
      const PEER2PEER = 2;
      await c.call("domainMigratePerform3Params", {
        dom,
        dconnuri: peerUri,
        params: [{ field: "migrate_uri", type: "string", value: `tcp://${peerHost}` }],
        cookie_in: Buffer.alloc(0),
        flags: LIVE | PEER2PEER,
      });
      await waitFor(
        () => virsh(peerUri, "domstate", name),
        (s) => /^running/.test(s),
        30_000,
        "guest running on the peer",
      );
      await assert.rejects(c.call("domainLookupByName", { name }), (e: unknown) => e instanceof LibvirtError && e.isNotFound());
      const peer = await LibvirtClient.connect(peerUri);
      try {
        const moved = (await peer.call("domainLookupByName", { name })).dom;
        assert.equal(moved.uuid, dom.uuid);
        const job = await peer.call("domainGetJobStats", { dom: moved, flags: 1 /* COMPLETED */ });
        const stats = typedParamsToObject(job.params);
        assert.equal(job.type, 3, "COMPLETED job");
        assert.equal(typeof stats.downtime, "bigint");
        await peer.call("domainDestroyFlags", { dom: moved, flags: 0 });
      } finally {
        await peer.close();
      }
    });
  });
});
