import { strict as assert } from "node:assert";
import { buildDomainXml, parseDomainXml } from "../../../provider/drivers/libvirt/xml";
import { ctxFor, SPECS } from "./fixtures";
import { expectedParse, projectParse, randomSpec } from "./generate";
import { assertValidLibvirtXml } from "./validate";

describe("libvirt domain XML round trip (build → parse)", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: every emitted field reads back`, () => {
      const ctx = ctxFor(spec, { type: "kvm", macs: { net2: "52:54:00:11:22:33" } });
      assert.deepEqual(projectParse(parseDomainXml(buildDomainXml(spec, ctx))), expectedParse(spec, ctx));
    });
  }

  it("200 random specs: round trip holds; every 10th also passes libvirt's schema", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const spec = randomSpec(seed);
      const ctx = ctxFor(spec, { type: seed % 2 ? "kvm" : "qemu" });
      if (seed % 3 === 0) {
        // Exercise the other source kinds too.
        for (const [i, slot] of Object.keys(ctx.disks).entries()) {
          ctx.disks[slot] = i % 2 ? { kind: "volume", pool: "images", volume: `${slot}.img` } : { kind: "block", dev: `/dev/vg0/${slot}`, format: "raw" };
        }
      }
      const xml = buildDomainXml(spec, ctx);
      try {
        assert.deepEqual(projectParse(parseDomainXml(xml)), expectedParse(spec, ctx));
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
      if (seed % 10 === 0) assertValidLibvirtXml(xml, "domain");
    }
  });

  it("facts: uuid, macs by slot, domain type, seed path, kernel boot", () => {
    const spec = SPECS.scsiMultiqueue;
    const xml = buildDomainXml(
      spec,
      ctxFor(spec, {
        uuid: "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c",
        macs: { net2: "52:54:00:11:22:33" },
        boot: { kernel: "/boot/vmlinuz", initrd: "/boot/initrd", cmdline: "console=ttyS0" },
      }),
    );
    const parsed = parseDomainXml(xml);
    assert.equal(parsed.uuid, "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c");
    assert.deepEqual(parsed.macs, { net0: "52:54:00:aa:bb:01", net2: "52:54:00:11:22:33" });
    assert.deepEqual(parsed.vcpus, { current: 4, max: 8 });
    assert.deepEqual(parsed.boot, { kernel: "/boot/vmlinuz", initrd: "/boot/initrd", cmdline: "console=ttyS0" });
    assert.equal(parsed.serialConsole, true);
    assert.deepEqual(parsed.cdroms, {});
    assert.equal(parsed.ownership.stack, "dev");
    assert.equal(parsed.ownership.project, "lab");
  });
});
