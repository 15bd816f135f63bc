import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateParityDocs, PARITY_DOC, README, README_BEGIN, README_END } from "../../../provider/drivers/parity/doc";
import { parityFigures } from "../../../provider/drivers/parity/figure";
import { computeParityMatrix, DRIVERS } from "../../../provider/drivers/parity/matrix";

describe("parity matrix (docs/parity.md, README summary, npm run parity)", () => {
  const { doc, summary } = generateParityDocs();

  it("docs/parity.md is what the code says (run `npm run parity-doc` after changing a capability table, a change rule or a translation check)", () => {
    assert.equal(readFileSync(PARITY_DOC, "utf8"), doc);
  });

  it("the README's summary block is what the code says (same command)", () => {
    const readme = readFileSync(README, "utf8");
    const block = readme.slice(readme.indexOf(README_BEGIN), readme.indexOf(README_END) + README_END.length);
    assert.equal(block, summary);
  });

  it("answers come from the code: the README's cores example is a hot-add on KVM and vSphere, a reboot on Hyper-V; removing vCPUs is cold on vSphere", () => {
    const m = computeParityMatrix();
    const cpuUp = m.changes.find((r) => r.key === "cpu-up")!.cells;
    assert.match(JSON.stringify(cpuUp.libvirt), /"hotplug/);
    assert.match(JSON.stringify(cpuUp.vsphere), /"hotplug/);
    assert.deepEqual([cpuUp.hyperv.status, cpuUp.hyperv.status === "different" && cpuUp.hyperv.disruption], ["different", "reboot"]);
    const cpuDown = m.changes.find((r) => r.key === "cpu-down")!.cells.vsphere;
    assert.equal(cpuDown.status === "different" && cpuDown.disruption, "cold");
    const pinning = m.fields.find((r) => r.key === "cpu.pinning")!.cells;
    assert.equal(pinning.libvirt.status, "supported");
    // vSphere's affinity is one host CPU set for the whole VM: per-vCPU sets are refused, a shared one is not.
    assert.match(pinning.vsphere.status === "refused" ? pinning.vsphere.reason : "", /one host CPU set/);
    assert.equal(m.fields.find((r) => r.key === "cpu.pinning.shared")!.cells.vsphere.status, "supported");
  });

  it("every documented feature names matrix rows that exist, and a kind without a driver implements nothing", () => {
    const figures = parityFigures(computeParityMatrix());
    assert.deepEqual(
      figures.map((f) => f.kind),
      [...DRIVERS],
    );
    for (const f of figures) {
      assert.ok(f.features.length > 0, `${f.kind} lists its hypervisor's documented features`);
      for (const feature of f.features) assert.match(feature.source, /^https:\/\//, `${f.kind}: ${feature.feature} has a source`);
      if (!f.implemented) assert.equal(f.share, 0, f.kind);
    }
  });
});
