import assert from "node:assert/strict";
import type { Observed } from "../../../provider/core/driver";
import { COMPUTED_OUTPUTS, RESOURCE_MODELS, type ResourceKind } from "../../../provider/core/model";

/**
 * The state a driver's answer becomes (spec + outputs) must parse as the next operation's inputs
 * once the declared outputs are stripped: an output key the model does not declare would stay in
 * the spec and break every later refresh, update and destroy of the resource.
 */
export function assertRecordable(kind: ResourceKind, observed: Observed<unknown>): void {
  const undeclared = Object.keys(observed.outputs).filter((k) => !COMPUTED_OUTPUTS[kind].includes(k));
  assert.deepEqual(undeclared, [], `${kind} outputs not declared in COMPUTED_OUTPUTS`);
  const state = { ...(observed.spec as Record<string, unknown>), ...observed.outputs };
  const inputs = Object.fromEntries(Object.entries(state).filter(([k]) => !COMPUTED_OUTPUTS[kind].includes(k)));
  const parsed = RESOURCE_MODELS[kind].schema.safeParse(JSON.parse(JSON.stringify(inputs)));
  assert.ok(parsed.success, `${kind} state does not parse as inputs: ${parsed.success ? "" : JSON.stringify(parsed.error.issues)}`);
}
