import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { buildRawFrame, FrameDecoder, MessageStatus, MessageType, REMOTE_PROGRAM } from "../../../provider/drivers/libvirt/rpc/packet";

/** Frames of many sizes (a stream packet's 262,120 bytes among them), as one byte string. */
function frames(): { wire: Buffer; payloads: Buffer[] } {
  const payloads = [0, 1, 3, 4, 100, 262_120, 65_536, 262_120, 7, 262_120].map((n) => randomBytes(n));
  const wire = Buffer.concat(
    payloads.map((p, serial) => buildRawFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 209, type: MessageType.STREAM, serial, status: MessageStatus.CONTINUE }, p)),
  );
  return { wire, payloads };
}

/**
 * The frame decoder as the connection drives it: socket reads of any size, from a read buffer
 * that is overwritten after each push (borrowed). Every payload must come out intact, in order,
 * with each frame that spanned reads filled in place (owned) rather than pointing into the buffer.
 */
describe("libvirt RPC frame decoder", () => {
  for (const readSize of [1, 3, 4096, 65_536, 262_144, 1_048_576]) {
    it(`reads of ${readSize} bytes from a reused buffer give every payload intact`, () => {
      const { wire, payloads } = frames();
      const decoder = new FrameDecoder();
      const readBuffer = Buffer.alloc(readSize);
      const got: Buffer[] = [];
      for (let at = 0; at < wire.length; at += readSize) {
        const n = wire.copy(readBuffer, 0, at, at + readSize);
        for (const f of decoder.push(readBuffer.subarray(0, n), true)) {
          assert.equal(f.header.serial, got.length);
          // What the stream does: keep owned payloads, copy views.
          got.push(f.owned ? f.payload : Buffer.from(f.payload));
          if (f.owned) assert.notEqual(f.payload.buffer, readBuffer.buffer, "an owned frame points into the read buffer");
        }
        readBuffer.fill(0xee); // the next read overwrites it
      }
      assert.equal(decoder.pendingBytes, 0);
      assert.deepEqual(got, payloads);
    });
  }

  it("an impossible length is refused", () => {
    const bad = Buffer.alloc(28);
    bad.writeUInt32BE(5, 0);
    assert.throws(() => new FrameDecoder().push(bad), /invalid frame length 5/);
  });
});
