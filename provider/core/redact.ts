/**
 * The one path every error and log line that can hold a secret goes through. Secrets come from
 * two places: values of fields a resource declares secret (cloud-init user data, console
 * passwords) and host credentials from `novacron:hosts`. They reach text in more shapes than
 * their own: JSON-escaped in an echoed value, XML-escaped in a daemon error quoting our XML,
 * one line of a multi-line value, a URL's userinfo. Every shape is replaced by `[secret]`.
 */

export const REDACTED = "[secret]";

/** Pieces of a secret shorter than this are not replaced on their own: they would mangle ordinary words. */
const MIN_PIECE = 6;

const MIN_WHOLE = 4;

/** Secrets known to this process: host credentials, registered when hosts are configured. */
const processSecrets = new Set<string>();

export function registerSecret(value: unknown): void {
  for (const shape of shapesOf(value)) processSecrets.add(shape);
}

/** Every string a secret value may appear as in text. */
function shapesOf(value: unknown): string[] {
  if (typeof value !== "string" || value.length === 0) return [];
  const shapes = new Set<string>([value, JSON.stringify(value).slice(1, -1), xmlEscaped(value)]);
  // A daemon quotes one line of our XML; an echo is cut at 80 characters.
  for (const line of value.split(/\r?\n/)) {
    const piece = line.trim();
    if (piece.length >= MIN_PIECE) {
      shapes.add(piece);
      shapes.add(xmlEscaped(piece));
      shapes.add(JSON.stringify(piece).slice(1, -1));
    }
  }
  // A value this short would mangle ordinary words wherever it occurs; such a secret is guessable anyway.
  if (value.length < MIN_WHOLE) return [];
  return [...shapes].filter((s) => s.length >= Math.min(MIN_PIECE, value.length));
}

function xmlEscaped(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** `scheme://user:password@host` → `scheme://user:[secret]@host`; a bare `user@` is no secret. */
export function redactUrlUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]*):([^/\s@]+)@/gi, `$1$2:${REDACTED}@`);
}

/** Values at dotted `paths` of `props` (a missing or non-string value yields nothing). */
export function valuesAtPaths(props: Record<string, unknown> | undefined, paths: readonly string[]): string[] {
  if (!props) return [];
  const found: string[] = [];
  for (const path of paths) {
    let node: unknown = props;
    for (const key of path.split(".")) node = node !== null && typeof node === "object" && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    collectStrings(node, found);
  }
  return found;
}

function collectStrings(value: unknown, into: string[]): void {
  if (typeof value === "string") into.push(value);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) collectStrings(v, into);
}

/** Text with every known secret shape and URL password replaced. `extra` are this operation's secret values. */
export function redact(text: string, extra: Iterable<string> = []): string {
  const shapes = new Set(processSecrets);
  for (const value of extra) for (const shape of shapesOf(value)) shapes.add(shape);
  // Longest first, so a whole value goes before one of its lines.
  let out = redactUrlUserinfo(text);
  for (const shape of [...shapes].sort((a, b) => b.length - a.length)) out = out.split(shape).join(REDACTED);
  return out;
}

/**
 * Pulumi's wire form of a secret value. An object like this inside a failed create's
 * `properties` is recorded in state as a secret (the engine unmarshals provider outputs
 * keeping secrets); a plain string would be stored in clear.
 */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function asPulumiSecret(value: unknown): Record<string, unknown> {
  return { [SECRET_SIG]: SECRET_SIG_VALUE, value };
}

/** A copy of `props` whose top-level keys holding a secret path are wrapped as Pulumi secrets. */
export function wrapSecretInputs(props: Record<string, unknown>, secretPaths: readonly string[]): Record<string, unknown> {
  const out = { ...props };
  for (const top of new Set(secretPaths.map((p) => p.split(".")[0]))) {
    if (out[top] !== undefined && out[top] !== null) out[top] = asPulumiSecret(out[top]);
  }
  return out;
}

/**
 * A line fit for a terminal: control characters (ESC sequences, CR rewriting the line, LF
 * forging another one) are shown escaped, never interpreted, and secrets are redacted.
 */
export function logLine(text: string, extra: Iterable<string> = []): string {
  // eslint-disable-next-line no-control-regex
  return redact(text, extra).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** An error whose message (and reasons) went through `redact`; a failed create's id and properties are kept. */
export function redactError(error: unknown, extra: Iterable<string> = []): Error {
  const secrets = [...extra];
  const source = error instanceof Error ? error : new Error(String(error));
  const out = new Error(redact(source.message, secrets));
  out.name = source.name;
  const detail = source as Error & { id?: unknown; properties?: unknown; reasons?: unknown };
  const carried: Record<string, unknown> = {};
  if (detail.id !== undefined) carried.id = detail.id;
  if (detail.properties !== undefined) carried.properties = detail.properties;
  if (Array.isArray(detail.reasons)) carried.reasons = detail.reasons.map((r) => redact(String(r), secrets));
  return Object.assign(out, carried);
}
