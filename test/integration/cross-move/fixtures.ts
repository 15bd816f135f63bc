// Disks with known contents for the cross-move tests and bench: deterministic bytes at chosen
// offsets, holes everywhere else, in a raw file created by the real qemu-img.
import { execFileSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { Readable } from "node:stream";

/** `length` reproducible pseudo-random bytes for `seed`: AES-256-CTR keystream keyed by the seed's sha256 (fast, incompressible). */
export function patternBytes(seed: string, length: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/**
 * A sparse raw disk of `size` bytes with pattern runs at the given offsets (written in 8 MiB
 * pieces, so a big run never sits whole in memory).
 */
export function makePatternDisk(path: string, size: number, runs: { offset: number; length: number }[], seed: string): void {
  execFileSync("qemu-img", ["create", "-q", "-f", "raw", path, String(size)]);
  const fd = openSync(path, "r+");
  try {
    for (const [i, run] of runs.entries()) {
      for (let done = 0; done < run.length; ) {
        const piece = Math.min(8 * 1048576, run.length - done);
        writeSync(fd, patternBytes(`${seed}:${i}:${done}`, piece), 0, piece, run.offset + done);
        done += piece;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The runs of a small test disk: a boot sector, a run across a 1 MiB boundary, a random middle run, the last sector. */
export function scatteredRuns(size: number): { offset: number; length: number }[] {
  return [
    { offset: 0, length: 512 },
    { offset: 1048576 - 700, length: 5000 },
    { offset: 17 * 1048576 + 3, length: 2 * 1048576 + 11 },
    { offset: size - 512, length: 512 },
  ];
}

/** A body of `total` bytes in 1 MiB pieces that breaks off once `breakAfter` bytes went out. */
export function breakingStream(total: number, breakAfter: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= breakAfter) {
        this.destroy(new Error("connection cut by the test"));
        return;
      }
      if (at >= total) return void this.push(null);
      const n = Math.min(1048576, total - at);
      at += n;
      this.push(Buffer.alloc(n, 0x5a));
    },
  });
}
