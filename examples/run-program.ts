/**
 * Runs one of these example programs through the real Pulumi engine when the machine has the
 * `pulumi` CLI but no nodejs language host (`pulumi-language-nodejs` cannot be built offline).
 *
 * The route is Pulumi's own Automation API: the program's entry file (resolved exactly as the
 * language host would resolve it, see `programEntry`) runs as an *inline program* in this
 * process, and the CLI is started with `--client=<address>`, so the engine, the state backend
 * and the dynamic-provider plugin are all the real ones. With a full Pulumi install, plain
 * `pulumi up` in the example's directory does the same thing.
 *
 *   ts-node examples/run-program.ts <project dir> <up|preview|refresh|destroy> [--stack NAME]
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";

/**
 * The file the nodejs language host would run for a project: `main` of Pulumi.yaml, else the
 * `exports`/`main` of the nearest package.json above the project, else the directory's index.
 * A project inside this repository without its own `main` gets the repository's package.json
 * (the sdk), which is how the quickstart once ran nothing at all.
 */
export function programEntry(projectDir: string): string {
  const settings = readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
  const main = /^main:\s*["']?([^"'\s#]+)/m.exec(settings)?.[1];
  if (main) return indexOf(path.resolve(projectDir, main));
  const manifest = nearestPackageJson(projectDir);
  if (manifest) {
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { main?: string; exports?: unknown };
    const declared = packageEntry(pkg);
    const candidate = declared && path.join(path.dirname(manifest), declared);
    if (candidate && existsSync(candidate)) return candidate;
  }
  return indexOf(path.resolve(projectDir));
}

function packageEntry(pkg: { main?: string; exports?: unknown }): string | undefined {
  const exp = pkg.exports;
  if (typeof exp === "string") return exp;
  if (exp && typeof exp === "object") {
    const dot = (exp as Record<string, unknown>)["."];
    if (typeof dot === "string") return dot;
    if (dot && typeof dot === "object") {
      const conditions = dot as Record<string, unknown>;
      const chosen = conditions.default ?? conditions.require ?? conditions.import;
      return typeof chosen === "string" ? chosen : undefined;
    }
    return undefined;
  }
  return pkg.main;
}

function nearestPackageJson(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "package.json");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function indexOf(target: string): string {
  if (!existsSync(target) || !statSync(target).isDirectory()) return target;
  for (const name of ["index.js", "index.mjs", "index.ts", "index.mts"]) {
    if (existsSync(path.join(target, name))) return path.join(target, name);
  }
  return path.join(target, "index.js");
}

export interface ProgramStackOptions {
  /** The example's directory: its Pulumi.yaml and its entry file. */
  projectDir: string;
  stackName: string;
  /** Where the workspace keeps Pulumi.<stack>.yaml; the project directory unless given. */
  workDir?: string;
  /** Extra environment for the CLI and, through it, the provider plugins. */
  envVars?: Record<string, string>;
}

/** The project's stack with the project's own program as the inline program. */
export async function programStack(opts: ProgramStackOptions): Promise<Stack> {
  const entry = programEntry(opts.projectDir);
  const settings = readFileSync(path.join(opts.projectDir, "Pulumi.yaml"), "utf8");
  const projectName = /^name:\s*["']?([^"'\s#]+)/m.exec(settings)?.[1] ?? path.basename(opts.projectDir);
  const program = async () => {
    // A second run in this process must execute the file again, not reuse the first exports.
    delete require.cache[require.resolve(entry)];
    return { ...(require(entry) as Record<string, unknown>) };
  };
  return LocalWorkspace.createOrSelectStack({ stackName: opts.stackName, projectName, program }, { workDir: opts.workDir ?? opts.projectDir, envVars: opts.envVars });
}

const USAGE = `usage: run-program.ts <project dir> <up|preview|refresh|destroy> [--stack NAME]

Runs the project's own program (its Pulumi.yaml main) through the real Pulumi engine via the
Automation API, for machines with the pulumi CLI but without pulumi-language-nodejs.`;

async function main(argv: string[]): Promise<number> {
  const stackAt = argv.indexOf("--stack");
  const stackName = stackAt >= 0 ? argv[stackAt + 1] : "dev";
  const [projectDir, action] = argv.filter((_, i) => i !== stackAt && i !== stackAt + 1);
  if (!projectDir || !["up", "preview", "refresh", "destroy"].includes(action ?? "") || !stackName) {
    console.error(USAGE);
    return argv.includes("--help") || argv.includes("-h") ? 0 : 2;
  }
  const stack = await programStack({ projectDir: path.resolve(projectDir), stackName });
  console.error(`[run-program] ${action} of ${programEntry(path.resolve(projectDir))} (stack ${stackName}) through the Automation API`);
  const streams = { onOutput: (out: string) => process.stdout.write(out), onError: (err: string) => process.stderr.write(err) };
  if (action === "up") {
    const result = await stack.up(streams);
    for (const [name, out] of Object.entries(result.outputs)) console.log(`${name}: ${out.secret ? "[secret]" : JSON.stringify(out.value)}`);
  } else if (action === "preview") await stack.preview(streams);
  else if (action === "refresh") await stack.refresh(streams);
  else await stack.destroy(streams);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      // The CLI's own output and errors were streamed already; repeating them adds nothing.
      const message = error instanceof Error ? error.message : String(error);
      const code = /code: (\d+)/.exec(message)?.[1];
      console.error(code ? `[run-program] pulumi exited with code ${code}` : `[run-program] failed: ${message}`);
      process.exit(1);
    },
  );
}
