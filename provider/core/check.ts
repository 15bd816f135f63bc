import type { z } from "zod";
import type { HypervisorCapabilities } from "./capabilities";
import { checkCapabilities, checkHostMove } from "./capability-check";
import { classifyChange, describePlan, refuseForbiddenRestarts } from "./classify";
import { checkCrossMove } from "./cross-move";
import { failureFromIssue, type InputFailure } from "./errors";
import { hostEntry, type DriverKind, type Hosts } from "./hosts";
import { RESOURCE_MODELS, textProblems, type ResourceKind, type SpecOf, type VirtualMachineSpec } from "./model";
import { redact as redactText, valuesAtPaths } from "./redact";
import { containsUnknown, isUnknown, pathTouchesUnknown, UNKNOWN, valueAt, withStandIns } from "./unknown";

export interface CheckOutcome {
  /** Normalised inputs (or the raw inputs while some are still unknown at preview). */
  inputs: Record<string, unknown>;
  failures: InputFailure[];
}

/** Input keys NovaCron adds itself; never part of the user's spec. */
export const PLANNED_CHANGES_KEY = "plannedChanges";

/**
 * The whole of `check()`: schema, host, capabilities, and for an update the classification of
 * each change, all without contacting a host. Never throws on user input.
 */
export function checkInputs(
  kind: ResourceKind,
  olds: Record<string, unknown> | undefined,
  news: Record<string, unknown>,
  hosts: Hosts,
  capabilitiesOf: (driver: DriverKind) => HypervisorCapabilities,
): CheckOutcome {
  if (news === null || typeof news !== "object" || Array.isArray(news)) {
    return {
      inputs: {},
      failures: [{ property: "", reason: `the ${kind}'s inputs must be an object of fields; got ${news === null ? "null" : Array.isArray(news) ? "an array" : typeof news}` }],
    };
  }
  const outcome = checkObjectInputs(kind, olds !== null && typeof olds === "object" ? olds : undefined, news, hosts, capabilitiesOf);
  // Whatever a rule quoted, no reason may show a secret value of these inputs (core/redact.ts).
  const secrets = valuesAtPaths(news, RESOURCE_MODELS[kind].secrets);
  return { ...outcome, failures: outcome.failures.map((f) => ({ property: f.property, reason: redactText(f.reason, secrets) })) };
}

function checkObjectInputs(
  kind: ResourceKind,
  olds: Record<string, unknown> | undefined,
  news: Record<string, unknown>,
  hosts: Hosts,
  capabilitiesOf: (driver: DriverKind) => HypervisorCapabilities,
): CheckOutcome {
  const model = RESOURCE_MODELS[kind];
  const user = withoutInternalKeys(news);
  // A value is never echoed when it is, is inside, or contains a secret field (`cloudInit` given as a string).
  const redact = (path: string) => path === "" || model.secrets.some((s) => path === s || path.startsWith(`${s}.`) || s.startsWith(`${path}.`));
  // Characters, lengths, traversal and keys first: a schema error must never quote such a value.
  const problems = textProblems(user);
  if (problems.length > 0) {
    return { inputs: news, failures: problems.map((p) => ({ property: p.path, reason: p.reason })) };
  }
  let parsed: z.ZodSafeParseResult<unknown> = model.schema.safeParse(user);
  // Whole objects unknown at preview (cpu, disks, cloudInit…): normalise everything else, so
  // diff compares like with like instead of seeing every default as a change.
  let unknownAt: PropertyKey[][] = [];
  if (!parsed.success) {
    const around = parseAroundUnknowns(model.schema, user, olds ? withoutInternalKeys(olds) : undefined, parsed.error.issues);
    if (around) ({ parsed, paths: unknownAt } = around);
  }
  const underUnknown = (path: readonly PropertyKey[]) => unknownAt.some((p) => p.every((k, i) => String(path[i]) === String(k)));
  if (!parsed.success) {
    // Unknown values are checked once they are known, at `up`.
    const issues = parsed.error.issues;
    const failures = issues
      .filter((issue) => !pathTouchesUnknown(user, issue.path))
      // zod's safe-integer bound beside the field's own maximum would say the same thing twice.
      .filter(
        (issue) =>
          !(
            issue.code === "too_big" &&
            Number(issue.maximum) >= Number.MAX_SAFE_INTEGER &&
            issues.some((o) => o !== issue && o.code === "too_big" && o.path.join(".") === issue.path.join("."))
          ),
      )
      .map((issue) => failureFromIssue(issue, user, redact));
    return { inputs: news, failures };
  }
  const spec = parsed.data as Record<string, unknown>;
  const hostName = spec.host as string;
  if (isUnknown(hostName)) return { inputs: { ...news, ...spec }, failures: [] };
  const host = hostEntry(hosts, hostName);
  if (!host) {
    const known = Object.keys(hosts).join(", ") || "none";
    return { inputs: news, failures: [{ property: "host", reason: `got "${hostName}"; it is not in the stack config novacron:hosts (configured: ${known})` }] };
  }
  const caps = capabilitiesOf(host.driver);
  const failures = checkCapabilities(kind, spec as SpecOf<typeof kind>, caps).filter((f) => !underUnknown(f.property.split(".")));
  if (failures.length === 0 && caps.translationProblems) {
    // Preview unknowns get a stand-in value; a problem on an unknown field waits for its value at `up`.
    const concrete = (containsUnknown(spec) ? withStandIns(spec, "unknown-at-preview") : spec) as SpecOf<typeof kind>;
    const problems = caps.translationProblems(kind, concrete);
    failures.push(...problems.filter((p) => !pathTouchesUnknown(spec, p.property.split(".")) && !underUnknown(p.property.split("."))));
  }
  const inputs: Record<string, unknown> = { ...spec };
  for (const path of unknownAt) setAt(inputs, path, UNKNOWN);
  if (kind === "VirtualMachine" && olds && Object.keys(olds).length > 0 && !containsUnknown(inputs)) {
    const before = RESOURCE_MODELS.VirtualMachine.schema.safeParse(withoutInternalKeys(olds));
    if (before.success) {
      const oldHost = hostEntry(hosts, before.data.host);
      const acrossKinds = oldHost !== undefined && oldHost.driver !== host.driver;
      const plan = classifyChange(kind, before.data, spec, caps, acrossKinds);
      failures.push(...refuseForbiddenRestarts(plan, before.data, spec as VirtualMachineSpec));
      // Across hypervisor kinds the VM is moved cold (disks copied), not migrated live.
      failures.push(
        ...(acrossKinds
          ? checkCrossMove(before.data, spec as VirtualMachineSpec, capabilitiesOf(oldHost.driver), caps)
          : checkHostMove(before.data, spec as VirtualMachineSpec, caps)),
      );
      // Shown by `pulumi preview` as an input change: dynamic providers cannot return detailed diffs.
      if (plan.changes.length > 0) inputs[PLANNED_CHANGES_KEY] = describePlan(plan);
    }
  }
  if (kind === "Container" && olds && Object.keys(olds).length > 0 && !containsUnknown(inputs)) {
    const before = RESOURCE_MODELS.Container.schema.safeParse(withoutInternalKeys(olds));
    if (before.success && before.data.host === (spec as SpecOf<"Container">).host) {
      const plan = classifyChange(kind, before.data, spec, caps);
      failures.push(...refuseForbiddenRestarts(plan, before.data, spec as SpecOf<"Container">, "container"));
      if (plan.changes.length > 0) inputs[PLANNED_CHANGES_KEY] = describePlan(plan);
    }
  }
  return { inputs, failures };
}

export function withoutInternalKeys(props: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _provider, [PLANNED_CHANGES_KEY]: _planned, ...rest } = props;
  return rest;
}

/**
 * Parses `user` with each unknown object (the shallowest unknown on a failing path) replaced by
 * its old value, or left out where there is none. Undefined when a failure has nothing to do
 * with an unknown, or the schema still refuses: then the raw inputs are answered as before.
 */
function parseAroundUnknowns(
  schema: z.ZodType,
  user: Record<string, unknown>,
  olds: Record<string, unknown> | undefined,
  issues: readonly { path: PropertyKey[] }[],
): { parsed: z.ZodSafeParseResult<unknown>; paths: PropertyKey[][] } | undefined {
  const paths: PropertyKey[][] = [];
  for (const issue of issues) {
    const depth = issue.path.findIndex((_, i) => isUnknown(valueAt(user, issue.path.slice(0, i + 1))));
    if (depth < 0 && !isUnknown(user)) return undefined;
    const path = issue.path.slice(0, depth + 1);
    if (!paths.some((p) => p.join(".") === path.join("."))) paths.push(path);
  }
  const substituted = structuredClone(user);
  for (const path of paths) {
    const old = olds === undefined ? undefined : valueAt(olds, path);
    setAt(substituted, path, old === undefined ? undefined : structuredClone(old));
  }
  const parsed = schema.safeParse(substituted);
  return parsed.success ? { parsed, paths } : undefined;
}

/** Sets (or, with undefined, removes) the value at `path`, creating nothing on the way. */
function setAt(root: Record<string, unknown>, path: readonly PropertyKey[], value: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (node === null || typeof node !== "object") return;
  const last = path[path.length - 1];
  if (value === undefined) delete (node as Record<PropertyKey, unknown>)[last];
  else (node as Record<PropertyKey, unknown>)[last] = value;
}
