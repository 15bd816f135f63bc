import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ChunkDigest, guestDigest } from "../../../provider/core/disk-image";
import { GrowingFile, qcow2GuestBytes } from "../../../provider/core/qcow2-stream";
import { makePatternDisk, scatteredRuns } from "./fixtures";

const MiB = 1048576;

/** Feeds `src` into a GrowingFile in small, delayed pieces, as a slow download would. */
async function arrive(src: string, file: GrowingFile): Promise<void> {
  const slow = new Transform({
    transform(chunk: Buffer, _enc, done) {
      setTimeout(() => done(null, chunk), 1);
    },
  });
  await pipeline(createReadStream(src, { highWaterMark: 256 * 1024 }), slow, file.writer());
}

/**
 * The qcow2 reader that follows a download, against images made by the real qemu-img: its guest
 * bytes must equal qemu-img's view for plain images, other cluster sizes, and images it hands
 * to qemu-img (compressed clusters).
 */
describe("qcow2 guest bytes read while the file arrives", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "novacron-qcow2-stream-"));
  const size = 40 * MiB + 64 * 1024;
  const raw = join(dir, "src.raw");
  let expected: string;

  before(async () => {
    makePatternDisk(raw, size, scatteredRuns(size), "qcow2-stream");
    expected = (await guestDigest(raw, "raw")).sha256;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, args] of [
    ["a plain qcow2 (64 KiB clusters)", []],
    ["4 KiB clusters (many L2 tables)", ["-o", "cluster_size=4096"]],
    ["2 MiB clusters", ["-o", "cluster_size=2097152"]],
    ["compressed clusters (handed to qemu-img)", ["-c"]],
    ["qcow2 version 2", ["-o", "compat=0.10"]],
  ] as const) {
    it(`${name}: the same guest digest as qemu-img's`, async () => {
      const image = join(dir, `${name.replace(/\W+/g, "-")}.qcow2`);
      execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", ...args, raw, image]);
      const file = new GrowingFile(join(dir, "arriving.qcow2"));
      const digest = new ChunkDigest();
      let bytes = 0;
      const reading = (async () => {
        for await (const piece of qcow2GuestBytes(file, size, dir)) {
          digest.update(piece);
          bytes += piece.length;
          assert.ok(piece.length <= MiB);
        }
      })();
      await Promise.all([arrive(image, file), reading]);
      assert.equal(bytes, size);
      assert.equal(digest.finish(), expected);
    });
  }

  it("an image whose clusters were written out of guest order (as a VM writes) still reads right", async () => {
    const image = join(dir, "shuffled.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", image, String(size)]);
    // Written back to front: the last guest range gets the first host clusters.
    execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 39M 1M", "-c", "write -P 0x11 20M 3M", "-c", "write -P 0xcd 1M 64k", "-c", "write -z 20M 1M", image]);
    const want = (await guestDigest(image, "qcow2")).sha256;
    const file = new GrowingFile(join(dir, "shuffled-arriving.qcow2"));
    const digest = new ChunkDigest();
    const reading = (async () => {
      for await (const piece of qcow2GuestBytes(file, size, dir)) digest.update(piece);
    })();
    await Promise.all([arrive(image, file), reading]);
    assert.equal(digest.finish(), want);
  });

  it("a download that breaks fails the reader with its error", async () => {
    const image = join(dir, "broken.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, image]);
    const file = new GrowingFile(join(dir, "broken-arriving.qcow2"));
    const reading = (async () => {
      for await (const _ of qcow2GuestBytes(file, size, dir));
    })();
    const w = file.writer();
    w.on("error", () => undefined);
    // The header arrives, then the download breaks before the tables it points to.
    w.write(readFileSync(image).subarray(0, 4096), () => w.destroy(new Error("download cut by the test")));
    await assert.rejects(reading, /download cut by the test/);
  });
});
