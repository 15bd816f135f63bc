import { strict as assert } from "node:assert";
import { NetworkInputs, type NetworkSpec } from "../../../provider/core/model";
import { bridgeNameFor, buildNetworkXml, defaultDhcpRange, parseNetworkXml, NETWORK_METADATA_NS } from "../../../provider/drivers/libvirt/xml";
import { parseXml } from "../../../provider/drivers/libvirt/xml/dom";
import { assertValidLibvirtXml } from "./validate";

const net = (args: Record<string, unknown>): NetworkSpec => NetworkInputs.parse({ host: "kvm1", name: "lab", ...args });
const ctx = { ownership: { resource: "urn:pulumi:dev::lab::novacron:index:Network::lab" } };

const SPECS: Record<string, NetworkSpec> = {
  nat: net({
    mode: "nat",
    cidr: "10.77.0.0/24",
    dhcp: {
      staticLeases: [
        { mac: "52:54:00:AA:00:01", ip: "10.77.0.10", hostname: "web" },
        { mac: "52:54:00:aa:00:02", ip: "10.77.0.11" },
      ],
    },
    labels: { team: "net" },
  }),
  routed: net({ name: "routed-with-a-long-name", mode: "routed", cidr: "172.20.16.0/20", dhcp: { start: "172.20.17.0", end: "172.20.17.200" } }),
  isolated: net({ mode: "isolated", cidr: "192.168.100.0/28", bridge: "virbr-lab" }),
  isolatedNoDhcp: net({ mode: "isolated", cidr: "10.1.0.0/16" }),
  bridge: net({ mode: "bridge", bridge: "br0" }),
  sriov: net({ name: "vf-pool", mode: "sriov", physicalFunction: "enp3s0f0", vlan: 120 }),
};

describe("libvirt network XML", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: passes libvirt's network schema and round-trips`, () => {
      const xml = buildNetworkXml(spec, ctx);
      assertValidLibvirtXml(xml, "network");
      const parsed = parseNetworkXml(xml);
      assert.equal(parsed.name, spec.name);
      assert.equal(parsed.mode, spec.mode);
      assert.equal(parsed.cidr, spec.cidr);
      assert.equal(parsed.physicalFunction, spec.physicalFunction);
      assert.equal(parsed.vlan, spec.vlan);
      const routedLike = ["nat", "routed", "isolated"].includes(spec.mode);
      assert.equal(parsed.bridge, routedLike ? (spec.bridge ?? bridgeNameFor(spec.name)) : spec.bridge);
      assert.deepEqual(parsed.labels, spec.labels);
      assert.equal(parsed.ownership.owned, true);
      assert.equal(parsed.ownership.resource, ctx.ownership.resource);
      if (spec.dhcp) {
        const range = defaultDhcpRange(spec.cidr as string);
        assert.deepEqual(parsed.dhcp, { start: spec.dhcp.start ?? range.start, end: spec.dhcp.end ?? range.end, staticLeases: spec.dhcp.staticLeases });
      } else assert.equal(parsed.dhcp, undefined);
    });
  }

  it("nat: host takes the first address, DHCP the upper half, leases by MAC", () => {
    const n = parseXml(buildNetworkXml(SPECS.nat, ctx), "network");
    assert.deepEqual(n.child("forward")?.attrs, { mode: "nat" });
    assert.deepEqual(n.child("ip")?.attrs, { address: "10.77.0.1", netmask: "255.255.255.0" });
    assert.deepEqual(n.at("ip", "dhcp", "range")?.attrs, { start: "10.77.0.128", end: "10.77.0.254" });
    assert.deepEqual(
      n
        .at("ip", "dhcp")
        ?.all("host")
        .map((h) => h.attrs),
      [
        { mac: "52:54:00:aa:00:01", ip: "10.77.0.10", name: "web" },
        { mac: "52:54:00:aa:00:02", ip: "10.77.0.11" },
      ],
    );
    assert.equal(n.child("metadata")?.children[0].namespaceUri, NETWORK_METADATA_NS);
  });

  it("routed uses forward mode route; isolated has no forward; /20 and /28 netmasks", () => {
    const routed = parseXml(buildNetworkXml(SPECS.routed, ctx), "network");
    assert.equal(routed.child("forward")?.attr("mode"), "route");
    assert.deepEqual(routed.child("ip")?.attrs, { address: "172.20.16.1", netmask: "255.255.240.0" });
    const isolated = parseXml(buildNetworkXml(SPECS.isolated, ctx), "network");
    assert.equal(isolated.child("forward"), undefined);
    assert.equal(isolated.child("bridge")?.attr("name"), "virbr-lab");
    assert.equal(isolated.child("ip")?.attr("netmask"), "255.255.255.240");
  });

  it("bridge mode attaches to an existing bridge; SR-IOV pool forwards hostdev from the PF with a VLAN", () => {
    const bridge = parseXml(buildNetworkXml(SPECS.bridge, ctx), "network");
    assert.deepEqual(bridge.child("forward")?.attrs, { mode: "bridge" });
    assert.deepEqual(bridge.child("bridge")?.attrs, { name: "br0" });
    assert.equal(bridge.child("ip"), undefined);
    const sriov = parseXml(buildNetworkXml(SPECS.sriov, ctx), "network");
    assert.deepEqual(sriov.child("forward")?.attrs, { mode: "hostdev", managed: "yes" });
    assert.equal(sriov.at("forward", "pf")?.attr("dev"), "enp3s0f0");
    assert.equal(sriov.at("vlan", "tag")?.attr("id"), "120");
    assert.equal(sriov.child("bridge"), undefined);
  });

  it("refuses a VLAN tag on networks whose Linux bridge libvirt cannot tag", () => {
    for (const mode of ["nat", "isolated", "bridge"] as const) {
      const spec = net(mode === "bridge" ? { mode, bridge: "br0", vlan: 5 } : { mode, cidr: "10.0.0.0/24", vlan: 5 });
      assert.throws(() => buildNetworkXml(spec, ctx), new RegExp(`vlan: .*not mode "${mode}"`));
    }
  });

  it("bridge names fit IFNAMSIZ and stay distinct for long names with a common start", () => {
    assert.equal(bridgeNameFor("lab"), "nc-lab");
    assert.equal(bridgeNameFor("abcdefghijkl"), "nc-abcdefghijkl");
    const a = bridgeNameFor("production-frontend");
    const b = bridgeNameFor("production-backend");
    assert.ok(a.length <= 15 && b.length <= 15, `${a} ${b}`);
    assert.notEqual(a, b);
    assert.match(a, /^nc-product-[0-9a-f]{4}$/);
    assert.equal(bridgeNameFor("production-frontend"), a, "deterministic");
  });

  it("DHCP range defaults: upper half, and a lone end below it pulls the start down", () => {
    assert.deepEqual(defaultDhcpRange("10.0.0.0/24"), { start: "10.0.0.128", end: "10.0.0.254" });
    assert.deepEqual(defaultDhcpRange("10.0.0.0/30"), { start: "10.0.0.2", end: "10.0.0.2" });
    assert.deepEqual(defaultDhcpRange("10.0.0.0/31"), { start: "10.0.0.1", end: "10.0.0.1" });
    assert.throws(() => defaultDhcpRange("10.0.0.7/32"), /too small/);
    const lone = net({ mode: "nat", cidr: "10.0.0.0/24", dhcp: { end: "10.0.0.50" } });
    assert.deepEqual(parseNetworkXml(buildNetworkXml(lone, ctx)).dhcp, { start: "10.0.0.2", end: "10.0.0.50", staticLeases: [] });
  });

  it("parses networks it did not write: IPv6, DNS, prefix notation, macvtap, libvirt's default", () => {
    const foreign = parseNetworkXml(`<network ipv6='yes'>
      <name>other</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
      <forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>
      <bridge name='virbr9' stp='on' delay='0'/><mac address='52:54:00:01:02:03'/><domain name='example'/>
      <dns><host ip='10.9.0.5'><hostname>a</hostname></host></dns><mtu size='9000'/>
      <ip family='ipv6' address='fd00::1' prefix='64'/>
      <ip address='10.9.0.1' prefix='16'><dhcp><range start='10.9.1.1' end='10.9.1.9'><lease expiry='1' unit='hours'/></range><host mac='52:54:00:AB:00:01' ip='10.9.0.7'/></dhcp><tftp root='/srv'/></ip>
      <portgroup name='pg' default='yes'/></network>`);
    assert.deepEqual(foreign, {
      name: "other",
      uuid: "11111111-2222-3333-4444-555555555555",
      mode: "nat",
      cidr: "10.9.0.0/16",
      address: "10.9.0.1",
      dhcp: { start: "10.9.1.1", end: "10.9.1.9", staticLeases: [{ mac: "52:54:00:ab:00:01", ip: "10.9.0.7" }] },
      bridge: "virbr9",
      labels: {},
      ownership: { owned: false, labels: {}, extras: {} },
    });
    assert.equal(parseNetworkXml("<network><name>m</name><forward mode='passthrough'><interface dev='eth1'/></forward></network>").mode, "passthrough");
  });
});
