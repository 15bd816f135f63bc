import { strict as assert } from "node:assert";
import { StoragePoolInputs, VolumeInputs } from "../../../provider/core/model";
import { buildStoragePoolXml, buildVolumeXml, parseStoragePoolXml, parseVolumeXml, LibvirtXmlError } from "../../../provider/drivers/libvirt/xml";
import { parseXml } from "../../../provider/drivers/libvirt/xml/dom";
import { assertValidLibvirtXml } from "./validate";

const pool = (args: Record<string, unknown>) => StoragePoolInputs.parse({ host: "kvm1", name: "images", ...args });
const volume = (args: Record<string, unknown>) => VolumeInputs.parse({ host: "kvm1", pool: "images", name: "web-root.qcow2", ...args });

describe("libvirt storage pool XML", () => {
  const cases = {
    dir: pool({ kind: "dir", path: "/var/lib/novacron/images" }),
    fs: pool({ kind: "fs", path: "/mnt/data", source: "/dev/sdb1" }),
    netfs: pool({ kind: "netfs", path: "/mnt/nfs", source: "nas1.example:/srv/images" }),
    netfsV6: pool({ kind: "netfs", path: "/mnt/nfs6", source: "[fd00::5]:/export" }),
    logical: pool({ kind: "logical", source: "vg0" }),
    zfs: pool({ kind: "zfs", source: "tank" }),
  };
  for (const [name, spec] of Object.entries(cases)) {
    it(`${name}: passes libvirt's storagepool schema and round-trips`, () => {
      const xml = buildStoragePoolXml(spec, { uuid: "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c" });
      assertValidLibvirtXml(xml, "storagepool");
      const parsed = parseStoragePoolXml(xml);
      assert.equal(parsed.name, "images");
      assert.equal(parsed.uuid, "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c");
      assert.equal(parsed.kind, spec.kind);
      assert.equal(parsed.source, spec.source);
      assert.equal(parsed.path, spec.kind === "logical" ? "/dev/vg0" : spec.path);
    });
  }

  it("netfs splits host and export; fs names the device", () => {
    const netfs = parseXml(buildStoragePoolXml(cases.netfs), "pool");
    assert.equal(netfs.at("source", "host")?.attr("name"), "nas1.example");
    assert.equal(netfs.at("source", "dir")?.attr("path"), "/srv/images");
    assert.equal(netfs.at("source", "format")?.attr("type"), "nfs");
    assert.equal(parseXml(buildStoragePoolXml(cases.netfsV6), "pool").at("source", "host")?.attr("name"), "fd00::5");
    assert.equal(parseXml(buildStoragePoolXml(cases.fs), "pool").at("source", "device")?.attr("path"), "/dev/sdb1");
  });

  it("refuses kinds it does not translate and malformed exports", () => {
    assert.throws(() => buildStoragePoolXml(pool({ kind: "rbd", source: "ceph/pool" })), LibvirtXmlError);
    assert.throws(() => buildStoragePoolXml(pool({ kind: "netfs", path: "/mnt", source: "no-export-here" })), /host:\/export/);
  });

  it("reads sizes from a live pool's XML (libvirt reports bytes)", () => {
    const parsed = parseStoragePoolXml(`<pool type='dir'><name>default</name><uuid>a0b1c2d3-0000-0000-0000-000000000000</uuid>
      <capacity unit='bytes'>107374182400</capacity><allocation unit='bytes'>1073741824</allocation><available unit='bytes'>106300440576</available>
      <source/><target><path>/var/lib/libvirt/images</path><permissions><mode>0711</mode><owner>0</owner><group>0</group></permissions></target></pool>`);
    assert.deepEqual(parsed, {
      name: "default",
      uuid: "a0b1c2d3-0000-0000-0000-000000000000",
      kind: "dir",
      path: "/var/lib/libvirt/images",
      capacityBytes: 107374182400,
      allocationBytes: 1073741824,
      availableBytes: 106300440576,
    });
  });
});

describe("libvirt storage volume XML", () => {
  it("blank qcow2: capacity in bytes and target format; passes the storagevol schema; round-trips", () => {
    const xml = buildVolumeXml(volume({ sizeGiB: 10 }));
    assertValidLibvirtXml(xml, "storagevol");
    const v = parseXml(xml, "volume");
    assert.deepEqual(v.child("capacity")?.attrs, { unit: "bytes" });
    assert.equal(v.child("capacity")?.text, String(10 * 1024 ** 3));
    assert.equal(v.at("target", "format")?.attr("type"), "qcow2");
    assert.equal(v.child("backingStore"), undefined);
    assert.deepEqual(parseVolumeXml(xml), { name: "web-root.qcow2", capacityBytes: 10 * 1024 ** 3, sizeGiB: 10, format: "qcow2" });
  });

  it("overlay on a backing store takes the resolved path and the base's size", () => {
    const spec = volume({ name: "web-overlay.qcow2", backingStore: "debian-12.qcow2" });
    const xml = buildVolumeXml(spec, { backingPath: "/var/lib/novacron/images/debian-12.qcow2", capacityBytes: 2147483648 });
    assertValidLibvirtXml(xml, "storagevol");
    const parsed = parseVolumeXml(xml);
    assert.deepEqual(parsed.backingStore, { path: "/var/lib/novacron/images/debian-12.qcow2", format: "qcow2" });
    assert.equal(parsed.sizeGiB, 2);
  });

  it("fractional GiB and raw format", () => {
    const xml = buildVolumeXml(volume({ name: "swap.img", sizeGiB: 0.5, format: "raw" }));
    assertValidLibvirtXml(xml, "storagevol");
    assert.deepEqual(parseVolumeXml(xml), { name: "swap.img", capacityBytes: 536870912, sizeGiB: 0.5, format: "raw" });
  });

  it("refuses unresolved capacity or backing path", () => {
    assert.throws(() => buildVolumeXml(volume({ cloneFrom: "base.qcow2" })), /sizeGiB: no capacity/);
    assert.throws(() => buildVolumeXml(volume({ backingStore: "base.qcow2" }), { capacityBytes: 1 }), /backingStore/);
  });

  it("reads libvirt's volume XML with units, key, path and an empty backingStore", () => {
    const parsed = parseVolumeXml(`<volume type='file'><name>a.qcow2</name><key>/var/lib/novacron/images/a.qcow2</key>
      <capacity unit='G'>3</capacity><allocation unit='KiB'>196</allocation><physical unit='bytes'>200704</physical>
      <target><path>/var/lib/novacron/images/a.qcow2</path><format type='qcow2'/><compat>1.1</compat><clusterSize unit='B'>65536</clusterSize></target>
      <backingStore/></volume>`);
    assert.deepEqual(parsed, {
      name: "a.qcow2",
      type: "file",
      key: "/var/lib/novacron/images/a.qcow2",
      path: "/var/lib/novacron/images/a.qcow2",
      capacityBytes: 3 * 1024 ** 3,
      allocationBytes: 196 * 1024,
      sizeGiB: 3,
      format: "qcow2",
    });
  });
});
