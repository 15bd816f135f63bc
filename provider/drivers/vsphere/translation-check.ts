import type { InputFailure } from "../../core/errors";
import type { ResourceKind, SpecOf, VirtualMachineSpec } from "../../core/model";
import { vmTranslationProblems } from "./translate";

/**
 * What the VM translation refuses, found at check() time. A module of its own because the
 * capability table that names it is imported by translate.ts too.
 */
export function vsphereTranslationProblems<K extends ResourceKind>(kind: K, spec: SpecOf<K>): InputFailure[] {
  return kind === "VirtualMachine" ? vmTranslationProblems(spec as VirtualMachineSpec) : [];
}
