import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

/**
 * The package as users get it: `npm pack` of this repository (its `prepack` compiles to dist/),
 * and a fresh project outside the repository that installs the tarball. Shared by the package
 * test and the e2e tier that runs a user's project through the real engine.
 */
export const REPO = path.resolve(__dirname, "../..");
const run = promisify(execFile);

/** npm and node of the project (Node 22) first on PATH, as `npm run` would have it. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Settings an enclosing `npm test` passes down (its package, its lifecycle) would leak into
  // the user project's npm; keep only the user's own npm configuration (cache, registry, proxy).
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_(package_|lifecycle_|config_local_prefix|config_prefix$|node_execpath|execpath|command)/i.test(key)),
  );
  return { ...inherited, PATH: `${path.join(REPO, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`, npm_config_update_notifier: "false", ...extra };
}

export interface PackedNovacron {
  /** Absolute path of `novacron-<version>.tgz`, in a temporary folder of its own. */
  tgz: string;
  /** Every path inside the tarball, relative to the package root (`dist/sdk/index.js`, …). */
  files: string[];
}

let packed: Promise<PackedNovacron> | undefined;

/**
 * Runs `npm pack` in the repository once per process (10–30 s: it recompiles dist/ through
 * `prepack`) and returns the tarball. Later calls reuse it. The tarball is removed when the
 * process exits unless `keep` is set on the first call.
 */
export function packNovacron(opts: { keep?: boolean } = {}): Promise<PackedNovacron> {
  packed ??= (async () => {
    const dest = mkdtempSync(path.join(tmpdir(), "nc-pack-"));
    if (!opts.keep) process.once("exit", () => rmSync(dest, { recursive: true, force: true }));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dest], { cwd: REPO, env: npmEnv(), maxBuffer: 64 << 20, timeout: 300_000 });
    const [result] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    return { tgz: path.join(dest, result.filename), files: result.files.map((f) => f.path) };
  })();
  packed.catch(() => (packed = undefined));
  return packed;
}

/** The version of @pulumi/pulumi this repository tests with: a user project gets the same. */
export function pulumiVersion(): string {
  return (require(path.join(REPO, "node_modules/@pulumi/pulumi/package.json")) as { version: string }).version;
}

/**
 * A fresh npm project in a new temporary folder outside the repository, with the tarball and
 * `@pulumi/pulumi` installed as a user would (`npm install ./novacron-<v>.tgz`). Uses the npm
 * cache first and the registry only for what the cache lacks. Returns the project folder.
 */
export async function installNovacron(tgz: string, opts: { dependencies?: Record<string, string>; dir?: string } = {}): Promise<string> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), "nc-user-project-"));
  if (path.resolve(dir).startsWith(`${REPO}${path.sep}`)) throw new Error(`the user project must live outside the repository, not in ${dir}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name: "nc-user-project", version: "1.0.0", private: true }, null, 2)}\n`);
  const specs = [tgz, `@pulumi/pulumi@${pulumiVersion()}`, ...Object.entries(opts.dependencies ?? {}).map(([name, range]) => `${name}@${range}`)];
  await run("npm", ["install", ...specs, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, env: npmEnv(), maxBuffer: 64 << 20, timeout: 300_000 });
  return dir;
}

/** `npx ts-node --transpile-only test/support/pack.ts` prints the tarball's path, for shell scripts. */
if (require.main === module) {
  packNovacron({ keep: true }).then(
    ({ tgz }) => process.stdout.write(`${tgz}\n`),
    (error: Error) => {
      process.stderr.write(`npm pack failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
