import type { TypedParam } from "./rpc";

/** Typed parameter lists (stats, job info) as a plain record; 64-bit counters become numbers. */
export function paramsToRecord(params: readonly TypedParam[]): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const p of params) out[p.field] = typeof p.value === "bigint" ? Number(p.value) : p.value;
  return out;
}
