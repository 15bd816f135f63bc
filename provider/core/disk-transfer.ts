import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Transform, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ImageFormat } from "./disk-image";
import type { Progress } from "./driver";

/**
 * The driver-neutral side of a cross-hypervisor disk move. Each driver moves bytes with its own
 * native data path (libvirt: volume download/upload streams; vSphere: datastore file GET/PUT);
 * core reads formats, converts them where it must (on local disk) and checks digests between the two. Bytes flow as
 * streams with backpressure: no implementation may hold a whole disk in memory.
 */

/** Where a VM's disk lives on its host, as the driver that owns it names it. */
export interface DiskLocation {
  /** The VM's disk slot (vda, sda, scsi0 …). */
  slot: string;
  /** Driver-specific address: a libvirt volume key/path, a vSphere "[datastore] folder/file.vmdk". */
  address: string;
  /** Container format of the file as stored (what `exportDisk` yields, what `importDisk` expects). */
  format: ImageFormat;
  /** Bytes the guest sees. */
  virtualSize: number;
}

/** Where `importDisk` writes a disk, chosen by the caller. */
export interface ImportTarget {
  /** A libvirt storage pool, or a vSphere datastore. */
  pool: string;
  /** The volume's name in the pool, or the descriptor's path in the datastore ("web/web_1.vmdk"). */
  name: string;
  /** Format of the bytes in `source`. */
  format: ImageFormat;
  /** Bytes `source` yields. */
  size: number;
  /** Bytes the guest sees, when it differs from `size` (qcow2, vmdk). */
  virtualSize?: number;
}

export interface DiskTransfer {
  /** The format this hypervisor stores disks in, and takes in `importDisk`. */
  readonly nativeFormat: ImageFormat;
  /** The disks of a (stopped) VM, by slot. */
  listDisks(vmId: string): Promise<DiskLocation[]>;
  /** A stream of the stored file's bytes, as the hypervisor keeps them. */
  exportDisk(disk: DiskLocation): Promise<Readable>;
  /**
   * Writes `size` bytes from `source` as the disk at `target` (a pool or datastore and a file
   * name chosen by the caller) and returns where it landed. Must fail rather than leave a
   * truncated file looking complete.
   */
  importDisk(target: ImportTarget, source: Readable): Promise<DiskLocation>;
  /** Removes an imported disk again (cleanup of a move that did not finish). Tolerates "already gone". */
  removeDisk(disk: DiskLocation): Promise<void>;
  /**
   * Ranged reads of the stored file, where the data path has them: core then reads a qcow2 in
   * guest order straight from the host (qcow2-ranges.ts) instead of through a local copy.
   */
  openRanges?(disk: DiskLocation): Promise<DiskRangeReader>;
}

/** Reads byte ranges of one stored disk file, one range at a time. */
export interface DiskRangeReader {
  /** Where the bytes come from, for progress lines ("libvirt volume downloads from host …"). */
  readonly via: string;
  /** Exactly `length` bytes from `offset` of the file as stored, streamed with backpressure. */
  range(offset: number, length: number): Promise<Readable>;
  close(): Promise<void>;
}

/** A pass-through that counts bytes and reports them with a rate, at most every `everyMs`. */
export function progressMeter(label: string, total: number, progress: Progress, everyMs = 2000): Transform {
  const started = Date.now();
  let seen = 0;
  let last = 0;
  const report = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const mib = seen / 1048576;
    progress(`${label}: ${mib.toFixed(0)} of ${(total / 1048576).toFixed(0)} MiB, ${(mib / seconds).toFixed(1)} MiB/s`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        report();
      }
      done(null, chunk);
    },
    flush(done) {
      report();
      done();
    },
  });
}

/** Streams a local file into a writable (an upload), counting progress. */
export async function sendFile(path: string, sink: Writable, label: string, progress: Progress): Promise<number> {
  const { size } = await stat(path);
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), progressMeter(label, size, progress), sink);
  return size;
}

/** Streams a readable (a download) into a local file, counting progress. */
export async function receiveFile(source: Readable, path: string, size: number, label: string, progress: Progress): Promise<void> {
  await pipeline(source, progressMeter(label, size, progress), createWriteStream(path));
}
