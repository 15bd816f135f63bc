import { strict as assert } from "node:assert";
import { NetworkInputs, type VirtualMachineSpec } from "../../../provider/core/model";
import { buildDomainXml, buildNetworkXml, parseDomainXml, parseNetworkXml, parsePciNodeDeviceXml } from "../../../provider/drivers/libvirt/xml";
import { ctxFor, SPECS } from "../../unit/libvirt-xml/fixtures";
import { expectedParse, projectParse, randomSpec } from "../../unit/libvirt-xml/generate";
import { canonicalCpuSets, withGeneratedMacs } from "./compare";
import { ensureLibvirtd, run, TAG, tryVirsh, virsh, withFile } from "./virsh";

/** Defines the domain, reads libvirt's own rendering back and removes it again. */
function throughDaemon(spec: VirtualMachineSpec, ctx = ctxFor(spec)): { dumped: string } {
  const xml = buildDomainXml(spec, ctx);
  return withFile(xml, (file) => {
    virsh("define", file);
    try {
      return { dumped: virsh("dumpxml", "--inactive", "--security-info", spec.name) };
    } finally {
      tryVirsh("undefine", "--nvram", spec.name);
    }
  });
}

describe("libvirt XML against the real libvirtd 9.0 (define → dumpxml → parse)", function () {
  this.timeout(900_000);
  // The TPM emulator backend needs swtpm, which this testbed does not install.
  const haveSwtpm = run("sh", ["-c", "command -v swtpm"]).status === 0;
  const forDaemon = (spec: VirtualMachineSpec, name: string): VirtualMachineSpec => ({
    ...spec,
    name: `${TAG}-${name}`,
    firmware: { ...spec.firmware, tpm: spec.firmware.tpm && haveSwtpm },
  });

  before(ensureLibvirtd);

  for (const [name, base] of Object.entries(SPECS)) {
    it(`${name}: libvirt accepts the definition and its normalised XML parses back to the spec`, () => {
      const spec = forDaemon(base, name);
      const ctx = ctxFor(spec, { macs: { net2: "52:54:00:11:22:33" } });
      const { dumped } = throughDaemon(spec, ctx);
      const parsed = parseDomainXml(dumped);
      assert.deepEqual(canonicalCpuSets(projectParse(parsed)), canonicalCpuSets(withGeneratedMacs(expectedParse(spec, ctx), parsed.macs)));
      assert.match(parsed.machineType ?? "", /^pc-(q35|i440fx)-\d/);
      assert.ok(parsed.uuid);
    });
  }

  it("100 random specs survive libvirt's normalisation", () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const spec = forDaemon(randomSpec(seed), `r${seed}`);
      const ctx = ctxFor(spec, { type: "qemu" });
      const parsed = parseDomainXml(throughDaemon(spec, ctx).dumped);
      try {
        assert.deepEqual(canonicalCpuSets(projectParse(parsed)), canonicalCpuSets(withGeneratedMacs(expectedParse(spec, ctx), parsed.macs)));
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });

  it("libvirt keeps the network's ownership metadata, bridge and DHCP settings", () => {
    const name = `${TAG}-net`.slice(0, 40);
    const spec = NetworkInputs.parse({
      host: "kvm1",
      name,
      mode: "nat",
      cidr: "10.231.99.0/24",
      dhcp: { staticLeases: [{ mac: "52:54:00:00:99:01", ip: "10.231.99.10", hostname: "a" }] },
      labels: { k: "v" },
    });
    withFile(buildNetworkXml(spec, { ownership: { resource: "urn:it" } }), (file) => virsh("net-define", file));
    try {
      const parsed = parseNetworkXml(virsh("net-dumpxml", name));
      assert.equal(parsed.mode, "nat");
      assert.equal(parsed.cidr, "10.231.99.0/24");
      assert.equal(parsed.ownership.owned, true);
      assert.deepEqual(parsed.labels, { k: "v" });
      assert.deepEqual(parsed.dhcp, { start: "10.231.99.128", end: "10.231.99.254", staticLeases: [{ mac: "52:54:00:00:99:01", ip: "10.231.99.10", hostname: "a" }] });
      assert.ok((parsed.bridge ?? "").length <= 15);
    } finally {
      tryVirsh("net-undefine", name);
    }
  });

  it("an SR-IOV pool network with a VLAN tag is accepted and reads back", () => {
    const name = `${TAG}-vf`;
    const spec = NetworkInputs.parse({ host: "kvm1", name, mode: "sriov", physicalFunction: "enp3s0f0", vlan: 120 });
    withFile(buildNetworkXml(spec, { ownership: { resource: "urn:it" } }), (file) => virsh("net-define", file));
    try {
      const parsed = parseNetworkXml(virsh("net-dumpxml", name));
      assert.equal(parsed.mode, "sriov");
      assert.equal(parsed.physicalFunction, "enp3s0f0");
      assert.equal(parsed.vlan, 120);
    } finally {
      tryVirsh("net-undefine", name);
    }
  });

  it("parses every PCI node device the daemon reports", () => {
    const names = virsh("nodedev-list", "--cap", "pci")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
    assert.ok(names.length > 0);
    for (const name of names) {
      const dev = parsePciNodeDeviceXml(virsh("nodedev-dumpxml", name));
      assert.equal(`pci_${dev?.addressText.replace(/[:.]/g, "_")}`, name);
      assert.match(dev?.vendorDevice ?? "", /^[0-9a-f]{4}:[0-9a-f]{4}$/);
    }
  });
});
