import type { InputFailure } from "../../core/errors";
import type { ResourceKind, SpecOf, VirtualMachineSpec } from "../../core/model";
import { vmTranslationProblems } from "./translate";

/**
 * What the VM translation refuses, found at check() time. A module of its own so the capability
 * table can name it although translate.ts imports that table: the modules still import each other
 * in a ring, which is safe because each one reads the others' exports only when called.
 */
export function vsphereTranslationProblems<K extends ResourceKind>(kind: K, spec: SpecOf<K>): InputFailure[] {
  return kind === "VirtualMachine" ? vmTranslationProblems(spec as VirtualMachineSpec) : [];
}
