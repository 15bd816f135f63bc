import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CHUNK, convertImage, guestDigest, imageInfo } from "../../../provider/core/disk-image";
import { sendFile } from "../../../provider/core/disk-transfer";

/** The same digest, computed the plain way: read every byte of a raw file. */
function naiveDigest(rawPath: string): string {
  const bytes = readFileSync(rawPath);
  const outer = createHash("sha256");
  for (let at = 0; at < bytes.length; at += CHUNK)
    outer.update(
      createHash("sha256")
        .update(bytes.subarray(at, at + CHUNK))
        .digest(),
    );
  return outer.digest("hex");
}

describe("disk images with the real qemu-img: conversion and guest-visible digests", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "novacron-disk-image-"));
  const raw = join(dir, "src.raw");
  const size = 48 * 1048576;

  before(() => {
    execFileSync("qemu-img", ["create", "-f", "raw", raw, String(size)]);
    const fd = openSync(raw, "r+");
    // A pattern across a chunk boundary, a random run and a byte in the last, short-aligned area.
    writeSync(fd, Buffer.from("NOVACRON-PATTERN-".repeat(100)), 0, undefined, CHUNK - 700);
    writeSync(fd, randomBytes(3 * 1048576 + 17), 0, undefined, 20 * 1048576 + 5);
    writeSync(fd, Buffer.from([0xab]), 0, 1, size - 1);
    closeSync(fd);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("raw → qcow2 → vmdk → raw keeps every guest-visible byte and the digest matches a full read", async () => {
    const qcow2 = join(dir, "a.qcow2");
    const vmdk = join(dir, "a.vmdk");
    const back = join(dir, "back.raw");
    await convertImage(raw, "raw", qcow2, "qcow2");
    await convertImage(qcow2, "qcow2", vmdk, "vmdk");
    await convertImage(vmdk, "vmdk", back, "raw");
    const expected = naiveDigest(raw);
    for (const [path, format] of [
      [raw, "raw"],
      [qcow2, "qcow2"],
      [vmdk, "vmdk"],
      [back, "raw"],
    ] as const) {
      const { sha256, virtualSize } = await guestDigest(path, format);
      assert.equal(sha256, expected, `${format} ${path}`);
      assert.equal(virtualSize, size);
    }
    assert.ok(readFileSync(back).equals(readFileSync(raw)), "the round trip is byte-identical");
  });

  it("holes stay holes in every format", async () => {
    for (const format of ["qcow2", "vmdk", "raw"] as const) {
      const out = join(dir, `sparse.${format}`);
      await convertImage(raw, "raw", out, format);
      const info = await imageInfo(out, format);
      assert.equal(info.virtualSize, size);
      // About 4 MiB of data in a 48 MiB disk; allocated space must stay near the data.
      assert.ok(statSync(out).blocks * 512 < 10 * 1048576, `${format}: ${statSync(out).blocks * 512} bytes allocated`);
    }
  });

  it("a compressed image is digested through a temp raw copy, with the same result", async () => {
    const compressed = join(dir, "c.qcow2");
    execFileSync("qemu-img", ["convert", "-c", "-f", "raw", "-O", "qcow2", raw, compressed]);
    assert.equal((await guestDigest(compressed, "qcow2")).sha256, naiveDigest(raw));
  });

  it("one changed byte changes the digest", async () => {
    const copy = join(dir, "changed.raw");
    await convertImage(raw, "raw", copy, "raw");
    const fd = openSync(copy, "r+");
    writeSync(fd, Buffer.from([1]), 0, 1, 30 * 1048576);
    closeSync(fd);
    assert.notEqual((await guestDigest(copy, "raw")).sha256, (await guestDigest(raw, "raw")).sha256);
  });

  it("sendFile streams a file in bounded pieces and reports bytes and rate", async () => {
    const lines: string[] = [];
    let received = 0;
    let largest = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        received += chunk.length;
        largest = Math.max(largest, chunk.length);
        done();
      },
    });
    const sent = await sendFile(raw, sink, "sda", (l) => lines.push(l));
    assert.equal(sent, size);
    assert.equal(received, size);
    assert.ok(largest <= 1048576, `largest piece ${largest}`);
    assert.match(lines[lines.length - 1], /^sda: 48 of 48 MiB, [\d.]+ MiB\/s$/);
  });
});
