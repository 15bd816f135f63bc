import assert from "node:assert/strict";
import * as path from "node:path";
import type { Driver } from "../../../provider/core/driver";
import type { HostConfig } from "../../../provider/core/hosts";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../../provider/core/model";
import type { LibvirtDriver } from "../../../provider/drivers/libvirt/driver";
import { closeAllDrivers, openDriver } from "../../../provider/drivers/registry";
import { getHostCapabilities } from "../../../sdk/functions";
import { ProviderHost } from "../../support/provider-host";
import { REPO, testbed, uniquePrefix } from "../../support/testbeds";

type Props = Record<string, unknown>;

/**
 * Passthrough against libvirt's test driver loaded from a host description of our own
 * (test/fixtures/libvirt-passthrough-node.xml) by the real libvirtd: PCI node devices with and
 * without IOMMU groups, found and refused through Pulumi's real provider host, and a VM whose
 * hostdev XML the daemon parses and stores. The daemon gives every connection its own copy of
 * that host, so what the provider host makes is checked through the provider host (read), and
 * the stored XML through an in-process driver on a connection of the test's own.
 */
describe("libvirt passthrough devices (test driver host from a fixture, through libvirtd)", function () {
  this.timeout(120_000);
  const fixture = path.join(REPO, "test/fixtures/libvirt-passthrough-node.xml");
  const uri = `test+unix://${fixture}`;
  const lab: HostConfig = { driver: "libvirt", uri };
  const hosts = { lab };
  const prefix = uniquePrefix("pt");
  let host: ProviderHost;
  const made: { kind: Parameters<ProviderHost["delete"]>[0]; id: string; props: Props }[] = [];
  let savedHosts: string | undefined;

  before(async () => {
    testbed("libvirt.sh");
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify(hosts) });
    savedHosts = process.env.NOVACRON_HOSTS;
    process.env.NOVACRON_HOSTS = JSON.stringify(hosts);
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.props).catch((e) => console.error(`cleanup ${r.kind} ${r.id}: ${e}`));
    await host?.stop();
    await closeAllDrivers();
    if (savedHosts === undefined) delete process.env.NOVACRON_HOSTS;
    else process.env.NOVACRON_HOSTS = savedHosts;
  });

  async function create(kind: Parameters<ProviderHost["create"]>[0], spec: Props) {
    const result = await host.checkAndCreate(kind, spec);
    made.push({ kind, id: result.id, props: result.outs });
    return result;
  }

  async function refused(kind: Parameters<ProviderHost["create"]>[0], spec: Props): Promise<string> {
    const result = await host.checkAndCreate(kind, spec).then(
      (r) => {
        made.push({ kind, id: r.id, props: r.outs });
        return undefined;
      },
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    assert.ok(result !== undefined, `${kind} ${JSON.stringify(spec)} should have been refused`);
    return result;
  }

  it("finds the GPU by PCI address; outputs show its IOMMU group and NUMA node", async () => {
    const gpu = await create("PassthroughDevice", { host: "lab", kind: "gpu", pciAddress: "0000:41:00.0" });
    assert.equal(gpu.id, "pci_0000_41_00_0");
    const observed = gpu.outs.observed as Props;
    assert.equal(observed.address, "0000:41:00.0");
    assert.equal(observed.iommuGroup, 23);
    assert.equal(observed.numaNode, 1);
    assert.equal(observed.vendor, "10de");
    assert.equal(observed.product, "1eb8");
    assert.equal(observed.class, "030000");
    assert.equal(observed.productName, "TU104GL [Tesla T4]");
  });

  it("finds devices by vendor:device and vendor:device/class", async () => {
    const byClass = await create("PassthroughDevice", { host: "lab", kind: "gpu", vendorDevice: "10DE:1EB8/0300" });
    assert.equal(byClass.id, "pci_0000_41_00_0");
    assert.equal((byClass.outs.observed as Props).iommuGroup, 23);
    const audio = await create("PassthroughDevice", { host: "lab", kind: "pci", vendorDevice: "10de:10f8" });
    assert.equal(audio.id, "pci_0000_41_00_1");
    assert.equal((audio.outs.observed as Props).iommuGroup, 23, "the GPU's audio function shares its group");
    // The class narrows the match: the same ids with the GPU's class find nothing.
    assert.match(await refused("PassthroughDevice", { host: "lab", kind: "pci", vendorDevice: "10de:10f8/0300" }), /vendorDevice: no PCI device 10de:10f8\/0300 on host "lab"/);
  });

  it("refuses devices in no IOMMU group, naming the field and what to do", async () => {
    const byAddress = await refused("PassthroughDevice", { host: "lab", kind: "pci", pciAddress: "0000:00:1f.3" });
    assert.match(byAddress, /pciAddress: device 0000:00:1f\.3 \(8086:a171\) is in no IOMMU group on host "lab"; enable the IOMMU \(intel_iommu=on or amd_iommu=on\)/);
    const byIds = await refused("PassthroughDevice", { host: "lab", kind: "gpu", vendorDevice: "1002:67df" });
    assert.match(byIds, /vendorDevice: device 0000:03:00\.0 \(1002:67df\) is in no IOMMU group/);
  });

  it("refuses absent devices naming the field and listing what the host has", async () => {
    const byAddress = await refused("PassthroughDevice", { host: "lab", kind: "gpu", pciAddress: "0000:99:00.0" });
    assert.match(byAddress, /pciAddress: no PCI device 0000:99:00\.0 on host "lab"; the host has .*0000:41:00\.0 \(10de:1eb8\/030000\)/);
    assert.match(await refused("PassthroughDevice", { host: "lab", kind: "gpu", vendorDevice: "10de:ffff" }), /vendorDevice: no PCI device 10de:ffff on host "lab"/);
  });

  it("refuses kind gpu for a device that is not a display controller", async () => {
    assert.match(await refused("PassthroughDevice", { host: "lab", kind: "gpu", pciAddress: "0000:41:00.1" }), /kind: "gpu" but device 0000:41:00\.1 has PCI class 040300/);
  });

  it("builds a VM with the GPU passed through; the daemon stores the hostdev and reads it back", async () => {
    const vm = await create("VirtualMachine", {
      host: "lab",
      name: `${prefix}-gpu`,
      memory: { sizeMiB: 256 },
      passthrough: { hostdev0: { device: "pci_0000_41_00_0" } },
      powerState: "running",
    });
    assert.equal(vm.outs.state, "running");
    // read parses the daemon's XML; the device id is rebuilt from the hostdev's source address.
    const back = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(back.id, vm.id);
    assert.deepEqual((back.inputs.passthrough as Props).hostdev0, { device: "pci_0000_41_00_0", romBar: true });
  });

  it("the stored domain XML has a managed PCI hostdev at the device's address (connection of the test's own)", async () => {
    const driver = await openDriver("lab", lab);
    const spec = vmSpec({
      host: "lab",
      name: `${prefix}-xml`,
      memory: { sizeMiB: 128 },
      passthrough: { hostdev0: { device: "pci_0000_41_00_0" }, hostdev1: { device: "pci_0000_41_00_1", romBar: false } },
      powerState: "stopped",
    });
    const ops = driver.resource("VirtualMachine")!;
    const observed = await ops.create(spec, ctxFor(driver));
    try {
      const client = await (driver as LibvirtDriver).session.get();
      const { dom } = await client.call("domainLookupByUuid", { uuid: observed.id });
      const { xml } = await client.call("domainGetXmlDesc", { dom, flags: 2 });
      const hostdevs = xml.match(/<hostdev [\s\S]*?<\/hostdev>/g) ?? [];
      assert.equal(hostdevs.length, 2, xml);
      assert.match(hostdevs[0], /^<hostdev mode='subsystem' type='pci' managed='yes'>/);
      assert.match(hostdevs[0], /<source>\s*<address domain='0x0000' bus='0x41' slot='0x00' function='0x0'\/>\s*<\/source>/);
      assert.match(hostdevs[1], /<source>\s*<address domain='0x0000' bus='0x41' slot='0x00' function='0x1'\/>\s*<\/source>/);
      assert.match(hostdevs[1], /<rom bar='off'\/>/);
    } finally {
      await ops.delete(observed.id, spec, ctxFor(driver));
    }
  });

  it("refuses a VM whose passthrough device has no IOMMU group or is absent, before defining anything", async () => {
    const driver = await openDriver("lab", lab);
    const client = await (driver as LibvirtDriver).session.get();
    const names = async () => (await client.call("connectListAllDomains", { need_results: 1, flags: 0 })).domains.map((d) => d.name);
    const before = await names();
    const spec = vmSpec({
      host: "lab",
      name: `${prefix}-bad`,
      memory: { sizeMiB: 128 },
      passthrough: { hostdev0: { device: "pci_0000_00_1f_3" }, hostdev1: { device: "pci_0000_77_00_0" } },
      powerState: "stopped",
    });
    await assert.rejects(driver.resource("VirtualMachine")!.create(spec, ctxFor(driver)), (error: Error) => {
      assert.match(error.message, /passthrough\.hostdev0\.device: device 0000:00:1f\.3 \("pci_0000_00_1f_3"\) is in no IOMMU group on host "lab"/);
      assert.match(error.message, /passthrough\.hostdev1\.device: no device "pci_0000_77_00_0" on host "lab"/);
      return true;
    });
    assert.deepEqual(await names(), before);
    // The same refusal through the provider host.
    const message = await refused("VirtualMachine", { host: "lab", name: `${prefix}-bad2`, memory: { sizeMiB: 128 }, passthrough: { hostdev0: { device: "pci_0000_77_00_0" } } });
    assert.match(message, /passthrough\.hostdev0\.device: no device "pci_0000_77_00_0" on host "lab"/);
  });

  it("pinning and NUMA binding are checked against this host's topology (4 CPUs, 2 nodes), not the machine's", async () => {
    const fits = await create("VirtualMachine", {
      host: "lab",
      name: `${prefix}-numa`,
      cpu: {
        cores: 2,
        pinning: { "0": "3", "1": "2-3" },
        numa: [
          { vcpus: "0", memoryMiB: 64, hostNode: 0 },
          { vcpus: "1", memoryMiB: 64, hostNode: 1 },
        ],
      },
      memory: { sizeMiB: 128 },
      powerState: "stopped",
    });
    assert.equal(fits.outs.state, "stopped");
    const message = await refused("VirtualMachine", {
      host: "lab",
      name: `${prefix}-numa2`,
      cpu: {
        cores: 2,
        pinning: { "0": "3", "1": "2-5" },
        numa: [
          { vcpus: "0", memoryMiB: 64, hostNode: 1 },
          { vcpus: "1", memoryMiB: 64, hostNode: 2 },
        ],
      },
      memory: { sizeMiB: 128 },
    });
    assert.match(message, /cpu\.pinning\.1: host CPUs 4-5 do not exist; host "lab" has CPUs 0-3/);
    assert.match(message, /cpu\.numa\.1\.hostNode: host NUMA node 2 does not exist; host "lab" has NUMA nodes 0-1/);
    assert.doesNotMatch(message, /cpu\.pinning\.0|cpu\.numa\.0/);
  });

  it("getHostCapabilities lists the PCI devices with their IOMMU groups and the host's NUMA nodes", async () => {
    const caps = await getHostCapabilities("lab");
    assert.equal(caps.hypervisor, "test");
    assert.equal(caps.cpus, 4);
    assert.deepEqual(
      caps.numaNodes.map((n) => ({ id: n.id, cpus: n.cpus })),
      [
        { id: 0, cpus: [0, 1] },
        { id: 1, cpus: [2, 3] },
      ],
    );
    const byName = new Map(caps.devices.map((d) => [d.name, d]));
    assert.deepEqual([...byName.keys()].sort(), ["pci_0000_00_1f_3", "pci_0000_03_00_0", "pci_0000_41_00_0", "pci_0000_41_00_1"]);
    assert.equal(byName.get("pci_0000_41_00_0")?.iommuGroup, 23);
    assert.equal(byName.get("pci_0000_41_00_1")?.iommuGroup, 23);
    assert.equal(byName.get("pci_0000_03_00_0")?.iommuGroup, undefined);
    assert.equal(byName.get("pci_0000_00_1f_3")?.iommuGroup, undefined);
    assert.equal(byName.get("pci_0000_41_00_0")?.class, "030000");
  });
});

function vmSpec(input: Props): VirtualMachineSpec {
  return RESOURCE_MODELS.VirtualMachine.schema.parse(input);
}

function ctxFor(driver: Driver) {
  return { progress: () => undefined, deadline: Date.now() + 60_000, connect: async () => driver };
}
