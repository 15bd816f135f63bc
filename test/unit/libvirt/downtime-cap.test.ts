import assert from "node:assert/strict";
import { downtimeCapFor, downtimeRamp } from "../../../provider/drivers/libvirt/migration";

describe("libvirt: the downtime cap a live migration ramps up to", () => {
  it("is the target itself up to 4 GiB of RAM", () => {
    assert.equal(downtimeCapFor(200, 1024), 200);
    assert.equal(downtimeCapFor(200, 4096), 200);
    assert.deepEqual(downtimeRamp(downtimeCapFor(200, 4096)), [50, 100, 200]);
  });

  it("shrinks with the RAM above that, since QEMU's estimate undercounts a big guest's pause", () => {
    assert.equal(downtimeCapFor(200, 8192), 100);
    assert.equal(downtimeCapFor(200, 10240), 80);
    assert.deepEqual(downtimeRamp(downtimeCapFor(200, 10240)), [50, 80]);
  });

  it("never goes below the first step, nor above a target smaller than it", () => {
    assert.equal(downtimeCapFor(200, 64 * 1024), 50);
    assert.equal(downtimeCapFor(30, 64 * 1024), 30);
  });
});
