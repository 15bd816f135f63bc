// Moves one disk between two configured hosts through the real data path, in a process of its
// own, so its memory can be measured alone: the test and the bench read its peak RSS (VmHWM).
// Input: one JSON argument { hosts, from, to, disk, target, options }. Output: one JSON line.
import { readFileSync } from "node:fs";
import { moveDisk } from "../../provider/core/disk-move";
import type { DiskLocation } from "../../provider/core/disk-transfer";
import type { HostConfig } from "../../provider/core/hosts";
import { openDriver } from "../../provider/drivers/registry";

interface Job {
  hosts: Record<string, HostConfig>;
  from: string;
  to: string;
  disk: DiskLocation;
  target: { pool: string; name: string };
  options: { targetFormat?: "raw" | "qcow2" | "vmdk"; verifyTarget?: boolean; workDir?: string };
}

function peakRssKiB(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] as string) as Job;
  const rssBefore = peakRssKiB();
  const from = await openDriver(job.from, job.hosts[job.from] as HostConfig);
  const to = await openDriver(job.to, job.hosts[job.to] as HostConfig);
  // Where the memory goes, sampled: heap, Buffers (external) and the whole process.
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], Math.round(m[k] / 1048576));
  }, 100);
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const progress: string[] = [];
  const moved = await moveDisk(from.diskTransfer!(), job.disk, to.diskTransfer!(), job.target, { ...job.options, progress: (l) => progress.push(l) });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  // User + system time of every thread of this process (the digest worker included).
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await from.close();
  await to.close();
  process.stdout.write(`${JSON.stringify({ moved, seconds, rssBeforeKiB: rssBefore, peakRssKiB: peakRssKiB(), peakMiB: peak, cpuSeconds, progress })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
