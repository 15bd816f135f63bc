// Starts (or reuses) the vcsim testbed once per test process and hands out
// connection options for it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { VimConnectOptions } from "../../../provider/drivers/vsphere/soap";

export interface Vcsim {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly caFile: string;
  readonly baseline: string;
  readonly options: VimConnectOptions;
}

let cached: Vcsim | undefined;

export function vcsim(): Vcsim {
  if (cached) return cached;
  const script = path.join(__dirname, "../../testbeds/vcsim.sh");
  const out = execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const env = Object.fromEntries(
    out.split("\n").flatMap((l) => {
      const m = /^(VCSIM_[A-Z_]+)=(.*)$/.exec(l);
      return m ? [[m[1], m[2]]] : [];
    }),
  ) as Record<string, string | undefined>;
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`vcsim.sh did not print ${k}:\n${out}`);
    return v;
  };
  const caFile = need("VCSIM_CA");
  cached = {
    url: need("VCSIM_URL"),
    username: need("VCSIM_USERNAME"),
    password: need("VCSIM_PASSWORD"),
    caFile,
    baseline: need("VCSIM_BASELINE"),
    options: {
      url: need("VCSIM_URL"),
      username: need("VCSIM_USERNAME"),
      password: need("VCSIM_PASSWORD"),
      ca: readFileSync(caFile, "utf8"),
    },
  };
  return cached;
}

/** Unique per run, so reruns against a long-lived simulator never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`;
}

export const DATACENTER = "DC0";
