import { execFile } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { DiskLocation } from "../../provider/core/disk-transfer";
import { closeAllSessions, connect, getProperties, lookup } from "../../provider/drivers/vsphere/soap";
import { makePatternDisk } from "../integration/cross-move/fixtures";
import { DATACENTER, vcsim } from "../integration/vsphere/testbed";
import { buildMover, runMover, type MoverResult } from "../support/mover";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";
import type { BenchResult } from "./types";

const run$ = promisify(execFile);
const URI = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";
const DATASTORE = "LocalDS_0";
const MiB = 1048576;
const SIZE = 2048 * MiB;
const ROUNDS = 4;

/**
 * Moving one 2 GiB disk (7/8 written with incompressible data, the rest holes) from a libvirt
 * qcow2 volume to vcsim's datastore. Ours: the real data path (the image's guest bytes read in
 * place by ranges and digested, HTTPS PUT of the flat file plus its descriptor) in a process of
 * its own, whose peak RSS is read from /proc. The libvirt host is this machine's, so the ranges
 * come from the volume file; the same move from the migration peer's daemon (a pool over the
 * same directory, reached over TCP) takes libvirt's ranged downloads and is reported beside it,
 * without a target: it is what a move from a remote KVM host costs here. Baseline: what a
 * person with shell access to both would do: `qemu-img convert` of the same volume file to raw,
 * then `curl -T` of that file to the same datastore URL. Interleaved rounds, best of each.
 * Targets: ≥ 0.8× the baseline's throughput; peak RSS of our mover < 200 MB.
 */
export async function run(): Promise<BenchResult[]> {
  testbed("libvirt.sh");
  testbed("libvirt-peer.sh");
  buildMover();
  const sim = vcsim();
  const prefix = uniquePrefix("xmb");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const poolName = `${prefix}-pool`;
  const client = await connect(sim.options);
  const ds = await lookup(client, "datastore", DATASTORE, DATACENTER);
  const dsRoot = ((await getProperties(client, ds, ["summary.url"])).props.get("summary.url")?.text ?? "").replace(/^ds:\/\//, "");
  mkdirSync(poolDir, { recursive: true });
  mkdirSync(join(dsRoot, prefix), { recursive: true });
  try {
    virsh(URI, "pool-create-as", poolName, "dir", "--target", poolDir);
    const raw = join(poolDir, "source.tmp");
    const source = join(poolDir, "source.qcow2");
    const runs = Array.from({ length: SIZE / (64 * MiB) }, (_, i) => ({ offset: i * 64 * MiB, length: 56 * MiB }));
    makePatternDisk(raw, SIZE, runs, prefix);
    await run$("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, source]);
    rmSync(raw);
    virsh(URI, "pool-refresh", poolName);
    virsh(PEER, "pool-create-as", poolName, "dir", "--target", poolDir);
    const hosts = {
      kvm: { driver: "libvirt", uri: URI },
      peer: { driver: "libvirt", uri: PEER },
      vc: { driver: "vsphere", url: sim.url, username: sim.username, password: sim.password, datacenter: DATACENTER, cluster: "DC0_C0", caFile: sim.caFile },
    };
    const disk: DiskLocation = { slot: "vda", address: source, format: "qcow2", virtualSize: SIZE };

    /** One move; `via` is the source the progress lines must name, so each figure is the path it says. */
    const ours = async (from: "kvm" | "peer", round: number, via: RegExp): Promise<MoverResult> => {
      const name = `${prefix}/${from}-${round}`;
      const job = { hosts, from, to: "vc", disk, target: { pool: DATASTORE, name: `${name}.vmdk` }, options: { workDir: poolDir } };
      const result = await runMover(job);
      rmSync(join(dsRoot, `${name}.vmdk`), { force: true });
      rmSync(join(dsRoot, `${name}-flat.vmdk`), { force: true });
      if (!result.progress.some((line) => via.test(line))) throw new Error(`the ${from} move did not read ${via}:\n${result.progress.join("\n")}`);
      return result;
    };

    /** Runs a command under GNU time: its wall time is measured here, its CPU time reported by time(1). */
    const timed = async (cmd: string, args: string[]): Promise<number> => {
      const { stderr } = await run$("/usr/bin/time", ["-f", "cpu %U %S", cmd, ...args], { encoding: "utf8", maxBuffer: 16 * MiB });
      const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      return m ? Number(m[1]) + Number(m[2]) : Number.NaN;
    };

    const baseline = async (round: number): Promise<{ seconds: number; cpuSeconds: number }> => {
      const converted = join(poolDir, `baseline-${round}.raw`);
      const path = `${prefix}/baseline-${round}-flat.vmdk`;
      const url = `${new URL(sim.url).origin}/folder/${path}?dcPath=${DATACENTER}&dsName=${DATASTORE}`;
      const cookie = client.transport.sessionCookie ?? "";
      const t0 = process.hrtime.bigint();
      let cpuSeconds = await timed("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", source, converted]);
      cpuSeconds += await timed("curl", ["-sS", "--fail", "--cacert", sim.caFile, "-H", `Cookie: ${cookie}`, "-H", "Content-Type: application/octet-stream", "-T", converted, url]);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      rmSync(converted, { force: true });
      rmSync(join(dsRoot, path), { force: true });
      return { seconds, cpuSeconds };
    };

    const mine: MoverResult[] = [];
    const remote: MoverResult[] = [];
    const theirs: { seconds: number; cpuSeconds: number }[] = [];
    const said = (m: { seconds: number; cpuSeconds: number } | undefined) => `${m?.seconds.toFixed(2)} s (${m?.cpuSeconds.toFixed(1)} s CPU)`;
    for (let r = 0; r < ROUNDS; r++) {
      mine.push(await ours("kvm", r, /from the volume file .* on this machine/));
      remote.push(await ours("peer", r, /from libvirt volume downloads from host "peer"/));
      theirs.push(await baseline(r));
      process.stderr.write(`  round ${r}: ours ${said(mine[r])}, ours from the peer over TCP ${said(remote[r])}, baseline ${said(theirs[r])}\n`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const rate = (runs: { seconds: number }[]) => SIZE / MiB / Math.min(...runs.map((m) => m.seconds));
    const baseMiBs = rate(theirs);
    const ratio = rate(mine) / baseMiBs;
    const peakMB = Math.max(...mine.map((m) => m.peakRssKiB), ...remote.map((m) => m.peakRssKiB)) / 1024;
    return [
      { name: "2 GiB qcow2 libvirt → vSphere: throughput, ours", value: rate(mine), unit: "MiB/s" },
      { name: "2 GiB: qemu-img convert + curl PUT, baseline", value: baseMiBs, unit: "MiB/s" },
      { name: "2 GiB: throughput ratio ours/baseline", value: ratio, unit: "x", target: ">= 0.8", pass: ratio >= 0.8 },
      { name: "2 GiB from a KVM host over TCP (libvirtd streams): throughput", value: rate(remote), unit: "MiB/s" },
      { name: "2 GiB from a KVM host over TCP: ratio to baseline", value: rate(remote) / baseMiBs, unit: "x" },
      { name: "2 GiB: peak RSS of the moving process", value: peakMB, unit: "MiB", target: "< 200", pass: peakMB < 200 },
      // CPU time does not depend on what else the machine runs: it shows where the wall time goes.
      { name: "2 GiB: CPU seconds of the mover (median)", value: median(mine.map((m) => m.cpuSeconds)), unit: "s" },
      { name: "2 GiB over TCP: CPU seconds of the mover (median; libvirtd's not counted)", value: median(remote.map((m) => m.cpuSeconds)), unit: "s" },
      { name: "2 GiB: CPU seconds of qemu-img + curl (median)", value: median(theirs.map((t) => t.cpuSeconds)), unit: "s" },
    ];
  } finally {
    virshMaybe(PEER, "pool-destroy", poolName);
    virshMaybe(URI, "pool-destroy", poolName);
    rmSync(poolDir, { recursive: true, force: true });
    rmSync(join(dsRoot, prefix), { recursive: true, force: true });
    await closeAllSessions();
  }
}
