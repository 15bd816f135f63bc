import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian packages whose readers validate the seed: isoinfo/isovfy and libisofs' xorriso. */
export const REQUIRED_PACKAGES: Record<string, string> = { isoinfo: "genisoimage", isovfy: "genisoimage", xorriso: "xorriso" };

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

/** Installs missing readers; a failed install fails the suite rather than skipping validation. */
export function ensureIsoTools(): void {
  const missing = [
    ...new Set(
      Object.entries(REQUIRED_PACKAGES)
        .filter(([tool]) => !has(tool))
        .map(([, pkg]) => pkg),
    ),
  ];
  if (missing.length === 0) return;
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const apt = (...args: string[]) => {
    const [cmd, ...rest] = [...asRoot, "apt-get", ...args];
    return spawnSync(cmd, rest, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, encoding: "utf8" });
  };
  // A fresh CI image may have no package lists yet; update only when the first try fails.
  if (apt("install", "-y", ...missing).status !== 0) {
    apt("update");
    const retry = apt("install", "-y", ...missing);
    if (retry.status !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed: ${retry.stderr}`);
  }
}

/** A scratch directory holding one image, removed by `dispose`. */
export class ImageOnDisk {
  readonly dir = mkdtempSync(join(tmpdir(), "nc-seed-"));
  readonly path = join(this.dir, "seed.iso");

  constructor(image: Buffer) {
    writeFileSync(this.path, image);
  }

  run(cmd: string, args: string[]): string {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  runBytes(cmd: string, args: string[]): Buffer {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  }

  /** Names from `isoinfo -l`, with "." and ".." dropped; `ext` picks the namespace. */
  names(ext: "-J" | "primary"): string[] {
    const args = ext === "-J" ? ["-J", "-l", "-i", this.path] : ["-l", "-i", this.path];
    return this.run("isoinfo", args)
      .split("\n")
      .map((line) => /\]\s+(.*?)\s*$/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined && name !== "." && name !== "..");
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
