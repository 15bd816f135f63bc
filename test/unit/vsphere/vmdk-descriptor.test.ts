import assert from "node:assert/strict";
import { flatPathOf, parseFlatExtent, vmfsDescriptor } from "../../../provider/drivers/vsphere/vmdk-descriptor";

describe("vSphere VMFS disk descriptors (descriptor + flat file)", () => {
  it("a written descriptor names its flat file and declares exactly the disk's sectors, and reads back", () => {
    const text = vmfsDescriptor(64 * 1048576, "web-flat.vmdk");
    assert.match(text, /^createType="vmfs"$/m);
    assert.match(text, /^RW 131072 VMFS "web-flat\.vmdk"$/m);
    assert.deepEqual(parseFlatExtent(text, "web/web.vmdk"), { path: "web/web-flat.vmdk", size: 64 * 1048576 });
    assert.deepEqual(parseFlatExtent(text, "web.vmdk"), { path: "web-flat.vmdk", size: 64 * 1048576 });
    assert.equal(flatPathOf("web/web_1.vmdk"), "web/web_1-flat.vmdk");
  });

  it("refuses what cannot be read as one flat file, naming the disk", () => {
    assert.throws(() => vmfsDescriptor(1000, "x-flat.vmdk"), /whole 512-byte sectors; got 1000 bytes/);
    assert.throws(() => parseFlatExtent("", "a/a.vmdk", "[ds] a/a.vmdk"), /\[ds\] a\/a\.vmdk is empty.*vcsim creates disks as empty placeholder files/);
    const delta = vmfsDescriptor(1048576, "a-flat.vmdk").replace("parentCID=ffffffff", "parentCID=1234abcd");
    assert.throws(() => parseFlatExtent(delta, "a.vmdk"), /has a parent \(a snapshot delta\)/);
    const sparse = 'createType="vmfsSparse"\nRW 2048 VMFSSPARSE "a-delta.vmdk"\n';
    assert.throws(() => parseFlatExtent(sparse, "a.vmdk"), /extent type VMFSSPARSE is not a flat file/);
    const two = 'RW 2048 VMFS "a-f1.vmdk"\nRW 2048 VMFS "a-f2.vmdk"\n';
    assert.throws(() => parseFlatExtent(two, "a.vmdk"), /has 2 extents/);
    assert.throws(() => flatPathOf("a.img"), /must end in \.vmdk/);
  });
});
