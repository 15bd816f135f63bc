// Throughput of our pure-TypeScript libvirt client against libvirt's own C
// client (python3-libvirt) on the same daemon and driver, plus memory
// stability over a long run. Run alone: npx ts-node test/bench/libvirt-rpc.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { LibvirtClient } from "../../provider/drivers/libvirt/rpc";
import { ensureLibvirt } from "../integration/libvirt-rpc/testbed";

import type { BenchResult } from "./types";

export type { BenchResult };

const URI = "test+unix:///default";
const N = 2000;
const RSS_CALLS = 100_000;
const ROUNDS = 5;

// Same work as ours: lookup by name + XML description, N times, one connection.
const PY = `
import json, sys, time, libvirt
n = int(sys.argv[1])
c = libvirt.open("${URI}")
for _ in range(200):
    c.lookupByName("test").XMLDesc(0)
t0 = time.perf_counter()
for _ in range(n):
    c.lookupByName("test").XMLDesc(0)
dt = time.perf_counter() - t0
c.close()
print(json.dumps({"opsPerSec": n / dt}))
`;

function cClientOpsPerSec(): number {
  // Debian's interpreter: python3-libvirt is installed for it, not for pyenv shims.
  const out = execFileSync("/usr/bin/python3", ["-c", PY, String(N)], { encoding: "utf8" });
  return (JSON.parse(out) as { opsPerSec: number }).opsPerSec;
}

async function lookupAndXml(c: LibvirtClient): Promise<number> {
  const { dom } = await c.call("domainLookupByName", { name: "test" });
  return (await c.call("domainGetXmlDesc", { dom, flags: 0 })).xml.length;
}

async function sequential(c: LibvirtClient, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await lookupAndXml(c);
  return n / ((performance.now() - t0) / 1000);
}

async function concurrent(c: LibvirtClient, n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => lookupAndXml(c)));
  return n / ((performance.now() - t0) / 1000);
}

function gcFn(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function callBatch(c: LibvirtClient, calls: number): Promise<void> {
  const batch = 200;
  for (let i = 0; i < calls; i += batch) {
    await Promise.all(Array.from({ length: batch }, (_, j) => ((i + j) % 2 ? c.call("domainLookupByName", { name: "test" }) : c.call("connectGetHostname"))));
  }
}

/**
 * RSS growth (MiB): `cold` over the very first RSS_CALLS calls of a fresh
 * process (includes JIT and V8's young generation growing to its working
 * size), `warm` over RSS_CALLS calls after a short warm-up, `steady` over the
 * RSS_CALLS after that. A leak shows up as warm/steady growth.
 */
async function rssGrowthMiB(c: LibvirtClient, gc: () => void): Promise<{ cold: number; warm: number; steady: number }> {
  const mib = (): number => process.memoryUsage().rss / (1024 * 1024);
  gc();
  const t0 = mib();
  await callBatch(c, 10_000);
  gc();
  const t1 = mib();
  await callBatch(c, RSS_CALLS);
  gc();
  const t2 = mib();
  await callBatch(c, RSS_CALLS);
  gc();
  const t3 = mib();
  return { cold: t2 - t0, warm: t2 - t1, steady: t3 - t2 };
}

export async function run(): Promise<BenchResult[]> {
  await ensureLibvirt();
  const c = await LibvirtClient.connect(URI);
  try {
    await sequential(c, 200); // warm-up
    await concurrent(c, 200);
    // Rounds interleave the C and TS clients so load from anything else on the
    // machine hits both alike; each side is credited with its best round.
    let cOps = 0;
    let seq = 0;
    let conc = 0;
    for (let round = 0; round < ROUNDS; round++) {
      cOps = Math.max(cOps, cClientOpsPerSec());
      seq = Math.max(seq, await sequential(c, N));
      conc = Math.max(conc, await concurrent(c, N));
    }
    const rss = rssInChild();
    const seqRatio = seq / cOps;
    const concRatio = conc / cOps;
    return [
      { name: "C client (python3-libvirt) sequential lookup+XML", value: round(cOps), unit: "ops/s" },
      { name: "TS client sequential lookup+XML", value: round(seq), unit: "ops/s" },
      { name: "sequential vs C client", value: round(seqRatio, 2), unit: "x", target: ">= 0.8x", pass: seqRatio >= 0.8 },
      { name: "TS client concurrent lookup+XML, one connection", value: round(conc), unit: "ops/s" },
      { name: "concurrent vs C client sequential", value: round(concRatio, 2), unit: "x", target: ">= 2x", pass: concRatio >= 2 },
      { name: `RSS growth over ${RSS_CALLS} calls after 10k warm-up`, value: round(rss.warm, 1), unit: "MiB", target: "< 50 MiB", pass: rss.warm < 50 },
      { name: `RSS growth over the next ${RSS_CALLS} calls`, value: round(rss.steady, 1), unit: "MiB", target: "< 50 MiB", pass: rss.steady < 50 },
      { name: `RSS growth from process start, first ${RSS_CALLS + 10_000} calls`, value: round(rss.cold, 1), unit: "MiB" },
    ];
  } finally {
    await c.close();
  }
}

/**
 * RSS is measured in a fresh process running this file compiled to plain
 * JavaScript. Under a TypeScript loader the compiler's own memory churn
 * (tens of MiB, varying with the loader) would swamp what the client uses.
 */
function rssInChild(): { cold: number; warm: number; steady: number } {
  const repo = resolve(__dirname, "../..");
  if (__filename.endsWith(".js")) {
    // Already plain JavaScript (a compiled bench run): measure this file directly.
    const out = execFileSync(process.execPath, [__filename, "--rss-child"], { cwd: repo, encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { cold: number; warm: number; steady: number };
  }
  const outDir = mkdtempSync(join(tmpdir(), "nc-bench-rpc-"));
  try {
    execFileSync(
      join(repo, "node_modules/.bin/tsc"),
      ["--outDir", outDir, "--rootDir", repo, "--module", "commonjs", "--target", "ES2022", "--esModuleInterop", "--skipLibCheck", "--strict", "--types", "node,mocha", __filename],
      { cwd: repo, encoding: "utf8" },
    );
    const js = join(outDir, "test/bench/libvirt-rpc.js");
    const out = execFileSync(process.execPath, [js, "--rss-child"], { cwd: repo, encoding: "utf8", env: { ...process.env, NODE_PATH: join(repo, "node_modules") } });
    return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { cold: number; warm: number; steady: number };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

async function rssChildMain(): Promise<void> {
  const gc = gcFn();
  const c = await LibvirtClient.connect(URI);
  try {
    console.log(JSON.stringify(await rssGrowthMiB(c, gc)));
  } finally {
    await c.close();
  }
}

function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

if (require.main === module && process.argv.includes("--rss-child")) {
  rssChildMain().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else if (require.main === module) {
  run().then(
    (rs) => {
      for (const r of rs) console.log(`${r.name}: ${r.value} ${r.unit}${r.target ? ` (target ${r.target}: ${r.pass ? "PASS" : "FAIL"})` : ""}`);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
