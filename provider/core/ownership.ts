import type { Observed } from "./driver";

/**
 * Who owns an object on a hypervisor. An object is NovaCron's only when NovaCron's own mark is
 * on it (written at creation); anything else found under a resource's name belongs to someone
 * else and is taken over only with the user's explicit `adopt: true`. An adopted object stays
 * in place on destroy unless the user also sets `deleteOnDestroy: true`.
 * See docs/decisions/0014-ownership-marks.md for where each kind keeps its mark.
 */

/** The spec fields this rule reads; kinds without them (VMs) never adopt. */
export interface AdoptionInputs {
  adopt?: boolean;
  deleteOnDestroy?: boolean;
}

/** What create does with an object found under the resource's name. */
export type FoundDecision = "converge-own-leftover" | "adopt";

/**
 * Decides what create may do with `existing`, or throws a refusal that names the object and
 * the way out. `describe` names the object for the user, e.g. `Volume "base.qcow2" in pool "p"`.
 */
export function decideOnFound(kind: string, spec: AdoptionInputs, existing: Observed<unknown>, describe: string, hostName: string): FoundDecision {
  if (existing.owned) return "converge-own-leftover";
  if (spec.adopt === true) return "adopt";
  const canAdopt = spec.adopt !== undefined;
  throw new Error(
    `${describe} already exists on host "${hostName}" and is not managed by NovaCron: it carries no NovaCron ownership mark, so NovaCron did not make it and will not touch it. ` +
      (canAdopt
        ? `Pick another name, or set adopt: true to manage it (it is then left in place on destroy unless deleteOnDestroy: true is also set)`
        : `Pick another name or remove it (${kind} cannot be adopted)`),
  );
}

/** True when destroy must leave the object where it is: it was adopted and the user did not ask for deletion. */
export function keepOnDestroy(spec: AdoptionInputs): boolean {
  return spec.adopt === true && spec.deleteOnDestroy !== true;
}

/** How a refusal names the object: its kind, name, and what scopes the name (pool, VM). */
export function describeObject(kind: string, spec: Record<string, unknown>): string {
  const scope = kind === "Volume" ? ` in pool "${String(spec.pool)}"` : kind === "Snapshot" ? ` of VM "${String(spec.vm)}"` : "";
  return `${kind} "${String(spec.name)}"${scope}`;
}
