import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { installNovacron, packNovacron, REPO } from "../support/pack";
import type { BenchResult } from "./types";

const NODE = path.join(REPO, "node_modules/.bin/node");
const TS_NODE = path.join(REPO, "node_modules/ts-node");
const ROUNDS = 5;

/** Pulumi's TypeScript template's compiler options (no skipLibCheck, no esModuleInterop). */
const TEMPLATE_TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
    typeRoots: [path.join(REPO, "node_modules/@types")],
  },
};

/**
 * What loading NovaCron costs a run, each figure a fresh Node process (wall time, Node's own
 * start included alike), all variants interleaved round by round, best round of each:
 * - a program's process: `@pulumi/pulumi` alone (Pulumi's floor) vs `+ require("novacron")` of
 *   the packed package installed in a project outside the repository vs the sdk's TypeScript
 *   source through ts-node (transpile-only, and type-checked as Pulumi runs ts-node by default);
 * - a user's `index.ts` type-checked by ts-node as Pulumi does: importing only `@pulumi/pulumi`
 *   vs also importing `novacron` (the declarations' cost);
 * - the dynamic provider host: the compiled runtime vs the runtime's source through ts-node.
 */
export async function run(): Promise<BenchResult[]> {
  const { tgz } = await packNovacron();
  const project = await installNovacron(tgz);
  try {
    writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(TEMPLATE_TSCONFIG));
    // Both use @pulumi/pulumi as a value, so both load it at run time (a type-only import is elided).
    const header = 'import * as pulumi from "@pulumi/pulumi";\nexport const Config = pulumi.Config;\n';
    writeFileSync(path.join(project, "floor.ts"), `${header}export const input: pulumi.Input<string> = "web";\n`);
    writeFileSync(
      path.join(project, "program.ts"),
      `${header}import * as nc from "novacron";\nexport const name = "web";\nexport const input: pulumi.Input<string> = name;\n` +
        "export function declare(): nc.VirtualMachine {\n" +
        '  return new nc.VirtualMachine(name, { host: "kvm1", cpu: { cores: 2 }, memory: { sizeMiB: 1024 }, nics: { net0: { network: "lab" } } });\n}\n',
    );
    const tsNodeTypeChecked = `require(${JSON.stringify(TS_NODE)}).register({ transpileOnly: false, project: "tsconfig.json" });`;
    const repoTsNode = (transpileOnly: boolean) => `require("ts-node").register({ transpileOnly: ${transpileOnly}, project: "tsconfig.json" });`;
    const variants: Record<string, { cwd: string; code: string }> = {
      floor: { cwd: project, code: 'require("@pulumi/pulumi");' },
      compiled: { cwd: project, code: 'require("@pulumi/pulumi"); require("novacron");' },
      tsNodeTranspile: { cwd: REPO, code: `${repoTsNode(true)} require("@pulumi/pulumi"); require("./sdk");` },
      tsNodeChecked: { cwd: REPO, code: `${repoTsNode(false)} require("@pulumi/pulumi"); require("./sdk");` },
      programFloor: { cwd: project, code: `${tsNodeTypeChecked} require("./floor.ts");` },
      programNovacron: { cwd: project, code: `${tsNodeTypeChecked} require("./program.ts");` },
      runtimeCompiled: { cwd: project, code: 'require("novacron/provider-runtime");' },
      runtimeTsNode: { cwd: REPO, code: `${repoTsNode(true)} require("./provider/dynamic/runtime");` },
    };
    // CPU time of the child (user + system, all its threads) is what the verdicts use: on a shared,
    // loaded machine it moves far less than wall time, which is reported beside it.
    const reportCpu = 'process.on("exit", () => { const u = process.cpuUsage(); process.stderr.write("\\nNC_CPU_MS " + (u.user + u.system) / 1000 + "\\n"); });';
    const best: Record<string, number> = Object.fromEntries(Object.keys(variants).map((k) => [k, Infinity]));
    const wall: Record<string, number> = { ...best };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, { cwd, code }] of Object.entries(variants)) {
        const start = process.hrtime.bigint();
        const child = spawnSync(NODE, ["-e", `${reportCpu} ${code}`], {
          cwd,
          stdio: ["ignore", "ignore", "pipe"],
          encoding: "utf8",
          env: { ...process.env, NODE_OPTIONS: "" },
          timeout: 120_000,
        });
        wall[name] = Math.min(wall[name], Number(process.hrtime.bigint() - start) / 1e6);
        const cpu = /NC_CPU_MS ([\d.]+)/.exec(child.stderr ?? "");
        if (child.status !== 0 || !cpu) throw new Error(`${name} failed (${child.status}): ${child.stderr}`);
        best[name] = Math.min(best[name], Number(cpu[1]));
      }
    }
    const ms = (v: number) => Math.round(v);
    const importCost = best.compiled - best.floor;
    const typeCheckCost = best.programNovacron - best.programFloor;
    const row = (name: string, key: string): BenchResult => ({ name: `${name} (wall ${ms(wall[key])} ms)`, value: ms(best[key]), unit: "ms CPU" });
    return [
      row("@pulumi/pulumi alone: Pulumi's floor", "floor"),
      row('+ require("novacron"), installed package', "compiled"),
      row("+ sdk source via ts-node, transpile-only", "tsNodeTranspile"),
      row("+ sdk source via ts-node, type-checked", "tsNodeChecked"),
      { name: "sdk import over the floor, compiled", value: ms(importCost), unit: "ms CPU", target: "≤ 500 ms", pass: importCost <= 500 },
      { name: "sdk import over the floor, ts-node type-checked", value: ms(best.tsNodeChecked - best.floor), unit: "ms CPU" },
      row("user index.ts, ts-node checked: pulumi only", "programFloor"),
      row("user index.ts, ts-node checked: + novacron", "programNovacron"),
      { name: "index.ts cost of importing novacron (types+load)", value: ms(typeCheckCost), unit: "ms CPU", target: "≤ 500 ms", pass: typeCheckCost <= 500 },
      row("provider host: runtime, compiled", "runtimeCompiled"),
      row("provider host: runtime via ts-node", "runtimeTsNode"),
      { name: "provider host runtime: ts-node / compiled", value: best.runtimeTsNode / best.runtimeCompiled, unit: "×" },
    ];
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}
