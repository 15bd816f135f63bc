import { readdirSync } from "node:fs";
import * as path from "node:path";
import type { BenchResult } from "./types";

/**
 * `npm run bench`: runs every benchmark module in this folder (each exports `run()`), prints
 * one table, and exits non-zero when a target is missed. Figures are ratios against a baseline
 * measured in the same run, because these machines are noisy. `npm run bench -- <name>` runs
 * the modules whose file name contains <name>.
 */
async function main(): Promise<void> {
  const filter = process.argv[2];
  const modules = readdirSync(__dirname)
    .filter((f) => f.endsWith(".ts") && !["run.ts", "types.ts"].includes(f) && !f.endsWith(".d.ts"))
    .filter((f) => !filter || f.includes(filter))
    .sort();
  const rows: (BenchResult & { suite: string })[] = [];
  let failed = false;
  for (const file of modules) {
    const suite = path.basename(file, ".ts");
    process.stderr.write(`bench ${suite}…\n`);
    try {
      const mod = (await import(path.join(__dirname, file))) as { run?: () => Promise<BenchResult[]> };
      if (typeof mod.run !== "function") continue;
      for (const result of await mod.run()) {
        rows.push({ suite, ...result });
        if (result.pass === false) failed = true;
      }
    } catch (error) {
      failed = true;
      rows.push({ suite, name: `failed: ${error instanceof Error ? error.message : String(error)}`, value: Number.NaN, unit: "", pass: false });
    }
  }
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));
  for (const r of rows) {
    const verdict = r.pass === undefined ? "" : r.pass ? "PASS" : "MISS";
    console.log(`${r.suite.padEnd(18)} ${r.name.padEnd(58)} ${fmt(r.value).padStart(12)} ${r.unit.padEnd(10)} ${(r.target ?? "").padEnd(14)} ${verdict}`);
  }
  process.exit(failed ? 1 : 0);
}

void main();
