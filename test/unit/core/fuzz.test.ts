import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { RESOURCE_KINDS } from "../../../provider/core/model";
import { UNKNOWN } from "../../../provider/core/unknown";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { HOSTS, VALID_INPUTS } from "./fixtures";

/** Small deterministic PRNG so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ODD_VALUES: unknown[] = [
  null,
  undefined,
  0,
  -1,
  1.5,
  1e308,
  Number.NaN,
  "",
  "x".repeat(5000),
  UNKNOWN,
  true,
  [],
  {},
  [1, "a"],
  { __proto__: { polluted: true } },
  "0000:01:00.0",
  "10.0.0.0/8",
  "52:54:00:00:00:01",
  "running",
  "vda",
  "net0",
];

function mutate(value: unknown, random: () => number, depth = 0): unknown {
  const pick = () => ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
  if (depth > 4 || random() < 0.15) return pick();
  if (Array.isArray(value)) return value.map((v) => mutate(v, random, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = random();
      if (r < 0.1) continue;
      out[r < 0.15 ? `${k}x` : k] = r < 0.6 ? v : mutate(v, random, depth + 1);
    }
    if (random() < 0.2)
      out[["cpu", "disks", "nics", "memory", "firmware", "dhcp"][Math.floor(random() * 6)]] = mutate({ vdb: { volume: "v" }, cores: 3, sizeMiB: 64 }, random, depth + 1);
    return out;
  }
  return random() < 0.5 ? value : pick();
}

describe("fuzz: check() on 12,000 mutated specs", function () {
  this.timeout(120_000);
  it("never throws or hangs, and answers with inputs or failures", () => {
    const random = rng(20261126);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 12_000; i++) {
      const kind = RESOURCE_KINDS[i % RESOURCE_KINDS.length];
      const spec = mutate(VALID_INPUTS[kind], random) as Record<string, unknown>;
      const news = spec !== null && typeof spec === "object" && !Array.isArray(spec) ? spec : { value: spec };
      let outcome;
      try {
        outcome = checkInputs(kind, i % 3 === 0 ? VALID_INPUTS[kind] : undefined, news, HOSTS, capabilitiesOf);
      } catch (error) {
        assert.fail(`case ${i} (${kind}) threw ${String(error)} for ${JSON.stringify(news).slice(0, 300)}`);
      }
      assert.ok(outcome.inputs && typeof outcome.inputs === "object");
      for (const f of outcome.failures) assert.ok(typeof f.property === "string" && f.reason.length > 0, `case ${i}: empty failure`);
      if (outcome.failures.length === 0) accepted++;
      else refused++;
    }
    // The generator must exercise both paths, or it proves nothing.
    assert.ok(accepted > 500 && refused > 500, `accepted ${accepted}, refused ${refused}`);
  });
});
