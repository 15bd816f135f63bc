import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CHUNK, ChunkDigest } from "../../../provider/core/disk-image";
import { WorkerDigest } from "../../../provider/core/digest-worker";

describe("guest digest on a worker thread", () => {
  it("gives ChunkDigest's result for pieces of any size across chunk boundaries", async () => {
    const bytes = randomBytes(5 * CHUNK + 12345);
    const cuts = [1, 700, CHUNK - 701, CHUNK, 3 * CHUNK, 5 * CHUNK + 12345];
    const inline = new ChunkDigest();
    const worker = new WorkerDigest();
    try {
      for (let i = 0, at = 0; at < bytes.length; i++) {
        const end = Math.min(cuts[i] ?? bytes.length, bytes.length);
        const piece = bytes.subarray(at, end);
        inline.update(piece);
        await worker.update(piece);
        at = end;
      }
      assert.equal(await worker.finish(), inline.finish());
    } finally {
      await worker.abandon();
    }
  });

  it("gives the same result for many small pieces, more than the ring holds, ending in a part-filled slot", async () => {
    const bytes = randomBytes(11 * CHUNK + 777);
    const inline = new ChunkDigest();
    inline.update(bytes);
    const worker = new WorkerDigest();
    try {
      // Pieces the size of libvirt's stream frames, not fed any faster than the worker frees slots.
      for (let at = 0; at < bytes.length; at += 262_120) await worker.update(bytes.subarray(at, Math.min(at + 262_120, bytes.length)));
      assert.equal(await worker.finish(), inline.finish());
    } finally {
      await worker.abandon();
    }
  });

  it("one changed byte changes it; the caller's buffer is left intact", async () => {
    const bytes = randomBytes(2 * CHUNK);
    const a = new WorkerDigest();
    const b = new WorkerDigest();
    await a.update(bytes);
    assert.equal(bytes.length, 2 * CHUNK, "the bytes were copied, not moved, to the worker");
    const changed = Buffer.from(bytes);
    changed[CHUNK + 3] ^= 1;
    await b.update(changed);
    assert.notEqual(await a.finish(), await b.finish());
  });
});
