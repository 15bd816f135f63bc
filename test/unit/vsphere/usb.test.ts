import assert from "node:assert/strict";
import { parseUsbAutoconnect, usbAutoconnect } from "../../../provider/drivers/vsphere/vm/usb";

describe("vSphere USB autoconnect patterns", () => {
  it("names the port and the ids, and reads them back", () => {
    const pattern = usbAutoconnect({ path: "1/0/1", vendorId: "046d", productId: "c52b" });
    assert.equal(pattern, "path:1/0/1 vid:0x046d pid:0xc52b");
    assert.deepEqual(parseUsbAutoconnect(pattern), { path: "1/0/1", vendorId: "046d", productId: "c52b" });
  });

  it("reads patterns written in vCenter: any field order, escaped spaces, no ids; none without a path", () => {
    assert.deepEqual(parseUsbAutoconnect("hostId:44\\ 45\\ 4c pid:0x5567 path:2/0/3"), { path: "2/0/3", vendorId: undefined, productId: "5567" });
    assert.deepEqual(parseUsbAutoconnect("path:1/3/0"), { path: "1/3/0", vendorId: undefined, productId: undefined });
    assert.equal(parseUsbAutoconnect("vid:0x0781 pid:0x5567"), undefined);
  });
});
