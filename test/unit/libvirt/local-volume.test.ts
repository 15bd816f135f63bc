import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { HEAD_BYTES, localVolumeRanges, type VolumeFacts } from "../../../provider/drivers/libvirt/local-volume";

async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const piece of stream) parts.push(piece as Buffer);
  return Buffer.concat(parts).toString();
}

/** A volume file is read locally only when it is, by libvirt's own facts, the volume libvirt serves. */
describe("libvirt: a volume read from its own file on this machine", () => {
  let dir: string;
  let path: string;
  let facts: VolumeFacts;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nc-localvol-"));
    path = join(dir, "disk.qcow2");
    writeFileSync(path, Buffer.concat([Buffer.from("QFI header"), Buffer.alloc(HEAD_BYTES), Buffer.from("guest data")]));
    facts = { path, allocation: statSync(path).blocks * 512, head: Buffer.from("QFI header") };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("serves exact ranges of the file libvirt vouches for, and an empty range as nothing", async () => {
    const reader = await localVolumeRanges(facts);
    assert.ok(reader);
    try {
      assert.equal(reader.via, `the volume file ${path} on this machine`);
      assert.equal(await text(await reader.range(0, 3)), "QFI");
      assert.equal(await text(await reader.range(facts.head.length + HEAD_BYTES, 5)), "guest");
      assert.equal(await text(await reader.range(5, 0)), "");
    } finally {
      await reader.close();
    }
  });

  it("is refused, so the move reads through libvirt, when the file is not what libvirt reports", async () => {
    assert.equal(await localVolumeRanges({ ...facts, head: Buffer.from("QFI other!") }), undefined, "other first bytes");
    assert.equal(await localVolumeRanges({ ...facts, allocation: facts.allocation + 4096 }), undefined, "other allocation");
    assert.equal(await localVolumeRanges({ ...facts, path: join(dir, "absent.qcow2") }), undefined, "no such file here");
    assert.equal(await localVolumeRanges({ ...facts, path: dir, allocation: statSync(dir).blocks * 512 }), undefined, "not a regular file");
  });
});
