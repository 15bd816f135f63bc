import { strict as assert } from "node:assert";
import { formatPciAddress, parsePciAddressText, parsePciNodeDeviceXml } from "../../../provider/drivers/libvirt/xml";
import { assertValidLibvirtXml } from "./validate";

/** A GPU function as a host with an IOMMU reports it: names, class, group members, NUMA node, bound to vfio. */
const GPU = `<device>
  <name>pci_0000_3b_00_0</name>
  <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0</path>
  <parent>pci_0000_3a_00_0</parent>
  <driver><name>vfio-pci</name></driver>
  <capability type='pci'>
    <class>0x030000</class>
    <domain>0</domain><bus>59</bus><slot>0</slot><function>0</function>
    <product id='0x1eb8'>TU104GL [Tesla T4]</product>
    <vendor id='0x10de'>NVIDIA Corporation</vendor>
    <iommuGroup number='42'>
      <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
      <address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>
    </iommuGroup>
    <numa node='1'/>
    <pci-express><link validity='cap' port='0' speed='8' width='16'/></pci-express>
  </capability>
</device>`;

const PF = `<device><name>pci_0000_18_00_0</name><parent>computer</parent><driver><name>ixgbe</name></driver>
  <capability type='pci'><class>0x020000</class><domain>0</domain><bus>24</bus><slot>0</slot><function>0</function>
    <product id='0x10fb'>82599ES</product><vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='virt_functions' maxCount='63'>
      <address domain='0x0000' bus='0x18' slot='0x10' function='0x0'/>
      <address domain='0x0000' bus='0x18' slot='0x10' function='0x2'/>
    </capability>
    <numa node='-1'/>
  </capability></device>`;

describe("libvirt PCI node device XML", () => {
  it("fixtures are valid node device documents", () => {
    assertValidLibvirtXml(GPU, "nodedev");
    assertValidLibvirtXml(PF, "nodedev");
  });

  it("reads address, ids and names, class, IOMMU group, NUMA node and driver", () => {
    assert.deepEqual(parsePciNodeDeviceXml(GPU), {
      name: "pci_0000_3b_00_0",
      parent: "pci_0000_3a_00_0",
      driver: "vfio-pci",
      address: { domain: 0, bus: 0x3b, slot: 0, function: 0 },
      addressText: "0000:3b:00.0",
      vendor: { id: 0x10de, name: "NVIDIA Corporation" },
      product: { id: 0x1eb8, name: "TU104GL [Tesla T4]" },
      classCode: 0x030000,
      vendorDevice: "10de:1eb8",
      iommuGroup: {
        number: 42,
        members: [
          { domain: 0, bus: 0x3b, slot: 0, function: 0 },
          { domain: 0, bus: 0x3b, slot: 0, function: 1 },
        ],
      },
      numaNode: 1,
    });
  });

  it("reads SR-IOV virtual functions and ignores NUMA node -1", () => {
    const pf = parsePciNodeDeviceXml(PF);
    assert.deepEqual(pf?.virtualFunctions?.map(formatPciAddress), ["0000:18:10.0", "0000:18:10.2"]);
    assert.equal(pf?.numaNode, undefined);
    assert.equal(pf?.vendorDevice, "8086:10fb");
  });

  it("returns undefined for non-PCI devices", () => {
    assert.equal(parsePciNodeDeviceXml("<device><name>net_eth0</name><capability type='net'><interface>eth0</interface></capability></device>"), undefined);
  });

  it("PCI address text converts both ways", () => {
    assert.deepEqual(parsePciAddressText("0000:3B:00.1"), { domain: 0, bus: 0x3b, slot: 0, function: 1 });
    assert.equal(parsePciAddressText("3b:00.1"), undefined);
    assert.equal(formatPciAddress({ domain: 0x10, bus: 1, slot: 0x1f, function: 7 }), "0010:01:1f.7");
  });
});
