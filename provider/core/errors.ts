import type { core as zcore } from "zod";
import { valueAt } from "./unknown";

/** One rejected input: where it is, what was given, and why it cannot be taken. */
export interface InputFailure {
  /** Dotted path of the field, e.g. `cpu.pinning.3` or `disks.vda.bus`. */
  property: string;
  reason: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/** Short, log-safe rendering of a user value; long strings are cut so errors stay readable. */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  // JSON would show NaN and Infinity as null.
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = typeof value === "string" ? JSON.stringify(value) : safeJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Turns a zod issue into a failure that names the field, the value given and what is accepted.
 * Fields declared secret pass `redact` so their values never reach an error message.
 */
export function failureFromIssue(issue: zcore.$ZodIssue, input: unknown, redact: (path: string) => boolean = () => false): InputFailure {
  const property = formatPath(issue.path);
  const given = redact(property) ? "a secret value" : showValue(valueAt(input, issue.path));
  switch (issue.code) {
    case "invalid_type":
      if (valueAt(input, issue.path) === undefined) {
        return { property, reason: `is required; expected ${describeExpected(issue.expected)}` };
      }
      return { property, reason: `got ${given}; expected ${describeExpected(issue.expected)}` };
    case "invalid_value":
      return { property, reason: `got ${given}; accepted: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` };
    case "too_small":
      return { property, reason: `got ${given}; must be ${issue.inclusive === false ? "more than" : "at least"} ${String(issue.minimum)}${unitOf(issue.origin)}` };
    case "too_big":
      // zod's own bound for whole numbers is no limit of ours: say what is wrong instead.
      if (Number(issue.maximum) >= Number.MAX_SAFE_INTEGER) return { property, reason: `got ${given}; far too large for this field` };
      return { property, reason: `got ${given}; must be ${issue.inclusive === false ? "less than" : "at most"} ${String(issue.maximum)}${unitOf(issue.origin)}` };
    case "invalid_format":
      return { property, reason: `got ${given}; ${issue.message.replace(/^Invalid string: /, "")}` };
    case "unrecognized_keys": {
      const keys = issue.keys.map((k) => (property ? `${property}.${k}` : k)).join(", ");
      return { property: property || issue.keys[0], reason: `unknown field(s) ${keys}; check the spelling against the resource reference` };
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      const why = inner ? inner.message.replace(/^Invalid string: /, "") : "invalid key";
      return { property, reason: `the key ${JSON.stringify(String(issue.path[issue.path.length - 1]))} is not accepted; ${why}` };
    }
    default:
      return { property, reason: issue.message.includes("got") ? issue.message : `got ${given}; ${issue.message}` };
  }
}

function describeExpected(expected: string): string {
  if (expected === "int") return "a whole number";
  return expected === "object" ? "an object" : `a ${expected}`;
}

function unitOf(origin: string): string {
  return origin === "array" || origin === "set" ? " item(s)" : origin === "string" ? " character(s)" : "";
}

/** Thrown to Pulumi: a message naming every failed field, suitable for the CLI. */
export class InputError extends Error {
  constructor(
    readonly resource: string,
    readonly failures: InputFailure[],
  ) {
    super(`${resource}: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    this.name = "InputError";
  }
}

/**
 * Thrown by a driver when an object was made but could not be finished (e.g. defined but not
 * started). The runtime hands Pulumi the id and outputs so the object stays recorded in state
 * and the next `up` converges it instead of leaking it.
 */
export class PartialCreateError extends Error {
  constructor(
    readonly id: string,
    readonly outputs: Record<string, unknown>,
    message: string,
  ) {
    super(message);
    this.name = "PartialCreateError";
  }
}
