import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkDigest, guestDigest } from "../../../provider/core/disk-image";
import type { DiskRangeReader } from "../../../provider/core/disk-transfer";
import { qcow2RangedView } from "../../../provider/core/qcow2-ranges";
import { makePatternDisk, scatteredRuns } from "./fixtures";

const MiB = 1048576;

/** Ranges of a local file, counted: what a host's ranged reads (libvirt's volume download with offset and length) yield. */
function fileRanges(path: string): DiskRangeReader & { reads: number } {
  const reader = {
    via: `the file ${path}`,
    reads: 0,
    range: async (offset: number, length: number) => {
      reader.reads++;
      // A read past the end yields what is there, as a host's would.
      return createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 256 * 1024 });
    },
    close: async () => undefined,
  };
  return reader;
}

async function digestOf(view: AsyncGenerator<Buffer>): Promise<{ sha256: string; bytes: number }> {
  const digest = new ChunkDigest();
  let bytes = 0;
  for await (const piece of view) {
    digest.update(piece);
    bytes += piece.length;
  }
  return { sha256: digest.finish(), bytes };
}

/**
 * The qcow2 reader that reads a source image by ranges in guest order (no local copy), against
 * images made by the real qemu-img: the same guest bytes as qemu-img's view, in few reads for
 * images qemu-img wrote, right for images written out of order, and handing back (not misreading)
 * what it does not read itself.
 */
describe("qcow2 guest bytes read by ranges from the source", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "novacron-qcow2-ranges-"));
  const size = 40 * MiB + 64 * 1024;
  const raw = join(dir, "src.raw");
  let expected: string;

  before(async () => {
    makePatternDisk(raw, size, scatteredRuns(size), "qcow2-ranges");
    expected = (await guestDigest(raw, "raw")).sha256;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, args, most] of [
    // Header, L1, the L2 table read twice (checked, then used), one data range.
    ["a plain qcow2 (64 KiB clusters)", [], 5],
    ["4 KiB clusters (many L2 tables)", ["-o", "cluster_size=4096"], 16],
    ["2 MiB clusters", ["-o", "cluster_size=2097152"], 5],
    ["qcow2 version 2", ["-o", "compat=0.10"], 5],
  ] as const) {
    it(`${name}: the same guest digest as qemu-img's, in at most ${most} reads`, async () => {
      const image = join(dir, `${name.replace(/\W+/g, "-")}.qcow2`);
      execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", ...args, raw, image]);
      const reader = fileRanges(image);
      const view = await qcow2RangedView(reader, size);
      assert.notEqual(typeof view, "string", String(view));
      assert.deepEqual(await digestOf(view as AsyncGenerator<Buffer>), { sha256: expected, bytes: size });
      assert.ok(reader.reads <= most, `${reader.reads} reads`);
    });
  }

  it("an image whose clusters were written out of guest order (as a VM writes) still reads right", async () => {
    const image = join(dir, "shuffled.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", image, String(size)]);
    // Back to front: the last guest range gets the first host clusters; a zeroed range in the middle.
    execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 39M 1M", "-c", "write -P 0x11 20M 3M", "-c", "write -P 0xcd 1M 64k", "-c", "write -z 20M 1M", image]);
    const want = (await guestDigest(image, "qcow2")).sha256;
    const view = await qcow2RangedView(fileRanges(image), size);
    assert.deepEqual(await digestOf(view as AsyncGenerator<Buffer>), { sha256: want, bytes: size });
  });

  it("compressed clusters are named and left to qemu-img, before any byte is read out", async () => {
    const image = join(dir, "compressed.qcow2");
    execFileSync("qemu-img", ["convert", "-c", "-f", "raw", "-O", "qcow2", raw, image]);
    assert.equal(await qcow2RangedView(fileRanges(image), size), "compressed clusters");
  });

  it("a raw file and a qcow2 with a backing file are named, not read", async () => {
    assert.equal(await qcow2RangedView(fileRanges(raw), size), "not a qcow2 header");
    const overlay = join(dir, "overlay.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", overlay]);
    assert.equal(await qcow2RangedView(fileRanges(overlay), size), "a backing file");
  });

  it("an image cut short fails with what is missing, never with zeros for the lost bytes", async () => {
    const image = join(dir, "cut.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, image]);
    truncateSync(image, statSync(image).size - 128 * 1024);
    const view = await qcow2RangedView(fileRanges(image), size);
    await assert.rejects(digestOf(view as AsyncGenerator<Buffer>), /ends \d+ bytes early; its tables point past the end of the file/);
  });

  it("a size that disagrees with the image's header is refused", async () => {
    const image = join(dir, "sized.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, image]);
    await assert.rejects(qcow2RangedView(fileRanges(image), size + MiB), /the qcow2 says \d+ bytes, the volume \d+/);
  });
});
