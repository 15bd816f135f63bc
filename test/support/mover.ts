// Runs test/support/disk-move-child.ts compiled to JavaScript, as the provider runs in a user's
// installation: under ts-node the TypeScript compiler alone takes ~100 MB of the process,
// which would drown the figure being measured (the data path's memory).
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO } from "./testbeds";

/** In this checkout (NOVACRON_CACHE may point at a shared testbed cache; the build is per checkout). */
const OUT = join(REPO, ".cache", "mover");
let built = false;

/** Compiles provider/ and the child into the cache (about 30 s on this machine), once per process. */
export function buildMover(): void {
  if (built) return;
  execFileSync(join(REPO, "node_modules/.bin/tsc"), ["-p", join(REPO, "test/support/tsconfig.mover.json"), "--outDir", OUT], { stdio: "inherit", timeout: 600_000 });
  built = true;
}

export interface MoverResult {
  moved: { sha256: string; virtualSize: number; bytesSent: number; location: { address: string } };
  seconds: number;
  /** CPU time of the mover's threads during the move. */
  cpuSeconds: number;
  rssBeforeKiB: number;
  peakRssKiB: number;
  peakMiB: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  progress: string[];
}

/** Moves one disk in a fresh Node process (see disk-move-child.ts for the job's shape). */
export async function runMover(job: object): Promise<MoverResult> {
  buildMover();
  const { stdout } = await promisify(execFile)(process.execPath, [join(OUT, "test/support/disk-move-child.js"), JSON.stringify(job)], {
    encoding: "utf8",
    maxBuffer: 16 * 1048576,
  });
  return JSON.parse(stdout.trim().split("\n").pop() as string) as MoverResult;
}
