import { createHash, createHmac } from "node:crypto";
import { writeIso9660, type IsoFile } from "./iso9660";

/**
 * Builds cloud-init NoCloud seeds in process, so drivers can upload the bytes to a
 * remote host without genisoimage/xorriso being installed anywhere.
 *
 * User data is a secret: nothing here logs it, and no error message quotes it.
 */

export interface NoCloudSeedInput {
  userData: string;
  metaData?: string;
  networkConfig?: string;
  instanceId: string;
  hostname?: string;
}

/** cloud-init's NoCloud datasource finds the seed by this filesystem label. */
export const NOCLOUD_VOLUME_ID = "cidata";

// Values are interpolated into YAML as plain scalars, so they are restricted to
// characters that can never start a new key, document or flow collection.
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOSTNAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function buildNoCloudSeed(input: NoCloudSeedInput): Buffer {
  requireString(input.userData, "userData");
  if (input.metaData !== undefined) requireString(input.metaData, "metaData");
  if (input.networkConfig !== undefined) requireString(input.networkConfig, "networkConfig");
  const files: IsoFile[] = [
    { name: "user-data", data: Buffer.from(input.userData, "utf8") },
    { name: "meta-data", data: Buffer.from(seedMetaData(input), "utf8") },
  ];
  if (input.networkConfig !== undefined) {
    files.push({ name: "network-config", data: Buffer.from(input.networkConfig, "utf8") });
  }
  return writeIso9660({ volumeId: NOCLOUD_VOLUME_ID, files });
}

/**
 * A content-derived instance-id: any change to the seed changes the id, which is what
 * makes cloud-init treat the next boot as a new instance and apply the new config.
 * Fields are length-prefixed and absence is distinct from "", so no two different
 * inputs can be framed into the same hashed bytes.
 *
 * The guest can read its instance-id (cloud-init publishes it to every user), so with a
 * `salt` the id is an HMAC under it: an unsalted hash would let a guest user test guesses
 * of the secret user data offline. Without a salt the id is the plain hash, which VMs made
 * before salts existed keep, so their guests are not re-initialised.
 */
export function seedInstanceId(userData: string, metaData?: string, networkConfig?: string, salt?: string): string {
  const hash = salt === undefined ? createHash("sha256") : createHmac("sha256", salt);
  hash.update("novacron/nocloud-seed/v1\0");
  for (const part of [userData, metaData, networkConfig]) {
    if (part === undefined) {
      hash.update(Buffer.from([0]));
      continue;
    }
    const bytes = Buffer.from(part, "utf8");
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(bytes.length));
    hash
      .update(Buffer.from([1]))
      .update(length)
      .update(bytes);
  }
  return `nc-${hash.digest("hex").slice(0, 16)}`;
}

/**
 * The meta-data that goes into the seed. Given meta-data only gains the keys it lacks
 * (instance-id, and local-hostname when a hostname is given), so a user's own
 * instance-id wins and otherwise-complete meta-data is kept byte-for-byte.
 */
export function seedMetaData(input: Pick<NoCloudSeedInput, "metaData" | "instanceId" | "hostname">): string {
  if (!INSTANCE_ID.test(input.instanceId)) {
    throw new RangeError(`instanceId ${JSON.stringify(input.instanceId)} must be 1-128 of A-Z a-z 0-9 . _ - and start with a letter or digit`);
  }
  if (input.hostname !== undefined && !isHostname(input.hostname)) {
    throw new RangeError(`hostname ${JSON.stringify(input.hostname)} is not an RFC 1123 host name`);
  }
  const wanted: [string, string][] = [["instance-id", input.instanceId]];
  if (input.hostname !== undefined) wanted.push(["local-hostname", input.hostname]);
  if (input.metaData === undefined) return wanted.map(([k, v]) => `${k}: ${v}\n`).join("");
  return addMissingKeys(input.metaData, wanted);
}

function addMissingKeys(metaData: string, wanted: readonly [string, string][]): string {
  const trimmed = metaData.trim();
  if (trimmed.startsWith("{")) return addMissingJsonKeys(trimmed, wanted);
  const missing = wanted.filter(([key]) => !hasTopLevelYamlKey(metaData, key));
  if (missing.length === 0) return metaData;
  const lines = metaData.split("\n");
  // New keys go after any directives and "---" marker so the text stays one document.
  let at = 0;
  while (at < lines.length && /^\s*(#.*|%.*)?\s*$/.test(lines[at].replace(/\r$/, ""))) at++;
  if (at < lines.length && lines[at].replace(/\r$/, "").trimEnd() === "---") at++;
  else at = 0;
  lines.splice(at, 0, ...missing.map(([k, v]) => `${k}: ${v}`));
  return lines.join("\n");
}

function hasTopLevelYamlKey(yaml: string, key: string): boolean {
  return new RegExp(`^(${key}|"${key}"|'${key}')[ \\t]*:`, "m").test(yaml);
}

function addMissingJsonKeys(json: string, wanted: readonly [string, string][]): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Not JSON, so a YAML flow mapping; editing that safely needs a YAML parser.
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new RangeError('metaData starts with "{" but is not a JSON object; write it as block YAML or a JSON object so instance-id can be checked');
  }
  const record = parsed as Record<string, unknown>;
  const missing = wanted.filter(([key]) => !(key in record));
  if (missing.length === 0) return json;
  return `${JSON.stringify({ ...Object.fromEntries(missing), ...record }, null, 2)}\n`;
}

function isHostname(name: string): boolean {
  return name.length <= 253 && name.split(".").every((label) => HOSTNAME_LABEL.test(label));
}

function requireString(value: unknown, field: string): void {
  // The value itself is never shown: for userData it is a secret.
  if (typeof value !== "string") throw new TypeError(`${field} must be a string, got ${typeof value}`);
}
