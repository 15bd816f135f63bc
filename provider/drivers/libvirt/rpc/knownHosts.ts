// OpenSSH known_hosts checking, so an SSH-tunnelled libvirt connection is
// only made to a host whose key we already trust. Supports plain and hashed
// (|1|salt|hmac) host fields, [host]:port entries, wildcards, negation and
// @revoked markers; @cert-authority lines are ignored (no CA support).
import { createHash, createHmac } from "node:crypto";

export type HostKeyStatus = "match" | "mismatch" | "unknown" | "revoked";

export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The name OpenSSH records: bare host on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(text);
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt64, hash64] = field.split("|");
    if (!salt64 || !hash64) return false;
    const mac = createHmac("sha1", Buffer.from(salt64, "base64")).update(name).digest("base64");
    return mac === hash64;
  }
  let matched = false;
  for (const pat of field.split(",")) {
    if (pat.startsWith("!")) {
      if (globMatch(pat.slice(1), name)) return false;
    } else if (globMatch(pat, name)) {
      matched = true;
    }
  }
  return matched;
}

export function checkKnownHosts(content: string, host: string, port: number, keyBlob: Buffer): HostKeyStatus {
  const name = knownHostsName(host, port);
  let sawHost = false;
  let matched = false;
  for (const rawLine of content.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    let marker: string | undefined;
    if (parts[0].startsWith("@")) marker = parts.shift();
    if (parts.length < 3) continue;
    const [hosts, , key64] = parts;
    if (marker === "@cert-authority") continue;
    if (!hostFieldMatches(hosts, name)) continue;
    let blob: Buffer;
    try {
      blob = Buffer.from(key64, "base64");
    } catch {
      continue;
    }
    const same = blob.equals(keyBlob);
    if (marker === "@revoked") {
      if (same) return "revoked";
      continue;
    }
    sawHost = true;
    if (same) matched = true;
  }
  if (matched) return "match";
  return sawHost ? "mismatch" : "unknown";
}
