/**
 * During `pulumi preview`, inputs that depend on resources not yet created arrive as this
 * sentinel string. Validation must let it through: the real value is checked at `up`.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** True when the value, or anything nested in it, is still unknown. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** The value found by walking `path` into `root`, or undefined when the path leaves the data. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** True when some prefix of `path` (including itself) holds the unknown sentinel. */
export function pathTouchesUnknown(root: unknown, path: readonly PropertyKey[]): boolean {
  for (let i = 0; i <= path.length; i++) {
    if (isUnknown(valueAt(root, path.slice(0, i)))) return true;
  }
  return false;
}

/** A copy of `value` with every unknown replaced by `standIn`, for code that needs a concrete value. */
export function withStandIns(value: unknown, standIn: string): unknown {
  if (value === UNKNOWN) return standIn;
  if (Array.isArray(value)) return value.map((v) => withStandIns(v, standIn));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withStandIns(v, standIn)]));
  }
  return value;
}
