import { strict as assert } from "node:assert";
import { el, render } from "../../../provider/drivers/libvirt/xml/element";
import { parseXml } from "../../../provider/drivers/libvirt/xml/dom";
import { assignSlots, indexToLetters, lettersToIndex, slotToTargetDev, targetDevToSlot } from "../../../provider/drivers/libvirt/xml/slots";
import { scaledBytes } from "../../../provider/drivers/libvirt/xml/units";

describe("libvirt XML primitives", () => {
  it("escapes text and attributes so any string survives a write and a read", () => {
    const nasty = `a<b>&c"d'e\nf\tg\rh ]]> &amp; é ☃`;
    const doc = parseXml(render(el("root", { v: nasty }, el("t", {}, nasty), el("empty", { gone: undefined, on: true, off: false }))), "root");
    assert.equal(doc.attr("v"), nasty);
    assert.equal(doc.child("t")?.rawText, nasty);
    assert.deepEqual(doc.child("empty")?.attrs, { on: "yes", off: "no" });
  });

  it("reads numeric character references, CDATA, comments and namespaced names", () => {
    const doc = parseXml(`<?xml version="1.0"?><!-- c --><r xmlns:p="urn:x"><p:a k="&#65;&#x42;">x<![CDATA[<raw>&]]>y</p:a></r>`, "r");
    const a = doc.children[0];
    assert.equal(a.localName, "a");
    assert.equal(a.namespaceUri, undefined, "the prefix is declared on the parent, not the element");
    assert.equal(doc.childLocal("a")?.attr("k"), "AB");
    assert.equal(a.rawText, "x<raw>&y");
  });

  it("target dev letters follow libvirt's bijective base-26 (vdz → 25, vdaa → 26)", () => {
    for (const [i, s] of [
      [0, "a"],
      [25, "z"],
      [26, "aa"],
      [51, "az"],
      [52, "ba"],
      [701, "zz"],
      [702, "aaa"],
    ] as const) {
      assert.equal(indexToLetters(i), s);
      assert.equal(lettersToIndex(s), i);
    }
  });

  it("every model disk slot maps to a distinct target dev and back", () => {
    const letters = "abcdefghijklmnopqrstuvwxyz".split("");
    const slots = [
      ...letters.map((l) => `vd${l}`),
      ...letters.map((l) => `sd${l}`),
      ...Array.from({ length: 100 }, (_, n) => `scsi${n}`),
      ...Array.from({ length: 100 }, (_, n) => `sata${n}`),
    ];
    const devs = slots.map(slotToTargetDev);
    assert.equal(new Set(devs).size, slots.length);
    assert.ok(devs.every((d) => /^(vd|sd)[a-z]+$/.test(d)));
    assert.deepEqual(devs.map(targetDevToSlot), slots);
    assert.equal(slotToTargetDev("scsi0"), "sdaa");
    assert.equal(slotToTargetDev("sata0"), "sddw");
    assert.equal(targetDevToSlot("hdc"), "hdc", "foreign names are kept");
    assert.equal(targetDevToSlot("sdzz"), "sdzz");
    assert.throws(() => slotToTargetDev("nvme0"), /no libvirt target name/);
  });

  it("aliased devices keep their slot; the rest fill the gaps in document order", () => {
    const keyed = assignSlots(["x", "net1", "y", "z"], (s) => (s.startsWith("net") ? s : undefined), "net");
    assert.deepEqual(keyed, [
      ["net0", "x"],
      ["net1", "net1"],
      ["net2", "y"],
      ["net3", "z"],
    ]);
  });

  it("scaled integers in libvirt's units", () => {
    assert.equal(scaledBytes("4", "GiB", "KiB"), 4 * 1024 ** 3);
    assert.equal(scaledBytes("4", "GB", "KiB"), 4e9);
    assert.equal(scaledBytes("2048", undefined, "KiB"), 2048 * 1024);
    assert.equal(scaledBytes("7", "bytes", "KiB"), 7);
    assert.equal(scaledBytes("1", "furlongs", "KiB"), undefined);
  });
});
