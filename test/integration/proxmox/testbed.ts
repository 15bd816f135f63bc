// Starts (or reuses) the fakepve testbed once per test process and hands out what reaches it.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { PveClient, type PveClientOptions } from "../../../provider/drivers/proxmox/api/client";

export interface FakePve {
  url: string;
  timedUrl: string;
  username: string;
  password: string;
  node: string;
  caFile: string;
  fingerprint: string;
}

let cached: FakePve | undefined;

export function fakepve(): FakePve {
  if (cached) return cached;
  const out = execFileSync("bash", [path.join(__dirname, "../../testbeds/proxmox.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 });
  const env = Object.fromEntries(
    out.split("\n").flatMap((l) => {
      const m = /^(FAKEPVE_[A-Z_]+)=(.*)$/.exec(l);
      return m ? [[m[1], m[2]]] : [];
    }),
  ) as Record<string, string | undefined>;
  const need = (k: string): string =>
    env[k] ??
    (() => {
      throw new Error(`proxmox.sh did not print ${k}:\n${out}`);
    })();
  cached = {
    url: need("FAKEPVE_URL"),
    timedUrl: need("FAKEPVE_TIMED_URL"),
    username: need("FAKEPVE_USERNAME"),
    password: need("FAKEPVE_PASSWORD"),
    node: need("FAKEPVE_NODE"),
    caFile: need("FAKEPVE_CA"),
    fingerprint: need("FAKEPVE_FINGERPRINT"),
  };
  return cached;
}

/** A host entry for novacron:hosts (ticket login, CA file). */
export function hostEntry(pve: FakePve, timed = false): Record<string, unknown> {
  return { driver: "proxmox", url: timed ? pve.timedUrl : pve.url, node: pve.node, username: pve.username, password: pve.password, caFile: pve.caFile };
}

/** A client of our own for reading outcomes back. */
export function clientFor(pve: FakePve, extra: Partial<PveClientOptions> = {}): PveClient {
  return new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile, ...extra });
}

/** Unique per run: the fake is shared and long-lived. Lower case, a DNS name as PVE wants it. */
export function uniqueName(tag: string): string {
  return `nc-pve-${tag}-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
}
