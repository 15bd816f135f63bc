import { formatPath } from "./errors";
import { RESOURCE_MODELS, type ResourceKind } from "./model";

/**
 * Reading what a stack recorded, leniently. A state written by an older or buggier version (or a
 * refresh that saw something this version's model refuses) must never wedge the stack: refresh,
 * update of the old side and delete take what still parses and say what they left out.
 * Inputs a user writes stay strict; this is only for what is already in state.
 */
export interface RecordedSpec {
  spec: Record<string, unknown>;
  /** One line per part that was left out: its path and why the model refused it. */
  notUnderstood: string[];
}

/** Without these no operation can even find the object. */
const ESSENTIAL = ["host", "name"];
/**
 * Required fields no operation on existing objects reads back from state (refresh reports them
 * from the host; delete does not need them): when the recorded one is refused, a stand-in keeps
 * the rest usable.
 */
const STAND_INS: Partial<Record<ResourceKind, Record<string, unknown>>> = {
  VirtualMachine: { memory: { sizeMiB: 1 } },
};
/** Enough for any recorded spec: every round removes at least one part. */
const MAX_ROUNDS = 64;

export class UnreadableStateError extends Error {
  constructor(kind: ResourceKind, problems: string[]) {
    super(`${kind}: the recorded state cannot be used even leniently: ${problems.join("; ")}`);
    this.name = "UnreadableStateError";
  }
}

/**
 * Parses `props` with the kind's model; each part the model refuses is removed (its defaults then
 * apply) until the rest parses. Essential fields (host, name) are never guessed.
 */
export function parseRecorded(kind: ResourceKind, props: Record<string, unknown>): RecordedSpec {
  const schema = RESOURCE_MODELS[kind].schema;
  const candidate = structuredClone(props) as Record<string, unknown>;
  const notUnderstood: string[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const parsed = schema.safeParse(candidate);
    if (parsed.success) return { spec: parsed.data as Record<string, unknown>, notUnderstood };
    let removed = false;
    for (const issue of parsed.error.issues) {
      const paths = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      for (const path of paths) {
        const standIn = path.length === 1 ? STAND_INS[kind]?.[String(path[0])] : undefined;
        if (standIn !== undefined && candidate[String(path[0])] === undefined) {
          candidate[String(path[0])] = structuredClone(standIn);
          removed = true;
          notUnderstood.push(`${formatPath(path)} (${issue.message}; a stand-in is used until the next refresh)`);
          continue;
        }
        const cut = removeNearest(candidate, path);
        if (cut === undefined) continue;
        if (cut.length === 1 && ESSENTIAL.includes(String(cut[0]))) {
          throw new UnreadableStateError(kind, [`${formatPath(cut)}: ${issue.message}`]);
        }
        removed = true;
        notUnderstood.push(`${formatPath(cut)} (${issue.message})`);
      }
    }
    if (!removed) {
      throw new UnreadableStateError(
        kind,
        parsed.error.issues.map((i) => `${formatPath(i.path) || "(root)"}: ${i.message}`),
      );
    }
  }
  throw new UnreadableStateError(kind, ["too many parts refused"]);
}

/**
 * Removes the value at `path`, or when nothing is there (a required field is missing) the
 * nearest enclosing value that exists; returns the path removed, undefined when none.
 */
function removeNearest(root: Record<string, unknown>, path: readonly PropertyKey[]): PropertyKey[] | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = valueAtPath(root, path.slice(0, depth - 1));
    const key = path[depth - 1];
    if (parent === null || typeof parent !== "object") continue;
    if (Array.isArray(parent)) {
      // An array element cannot be left out alone without shifting the rest: the array goes.
      continue;
    }
    const record = parent as Record<PropertyKey, unknown>;
    if (Object.hasOwn(record, key)) {
      delete record[key];
      return path.slice(0, depth) as PropertyKey[];
    }
  }
  return undefined;
}

function valueAtPath(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
