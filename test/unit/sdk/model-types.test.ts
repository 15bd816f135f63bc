import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { generateModelTypes } from "../../../provider/core/schema/declarations";

describe("sdk/model-types.ts", function () {
  // Builds a TypeScript program over the model once: a few seconds on a loaded machine.
  this.timeout(60_000);
  let generated: string;
  before(() => {
    generated = generateModelTypes();
  });

  it("matches the model (run `npm run model-types` after changing provider/core/model or the capability interfaces)", () => {
    const committed = readFileSync(path.resolve(__dirname, "../../../sdk/model-types.ts"), "utf8");
    assert.equal(committed, generated);
  });

  it("writes the zod-inferred types out in full: no zod, no import, nothing left unexpanded", () => {
    const code = generated
      .split("\n")
      .filter((line) => !line.startsWith("//"))
      .join("\n");
    assert.doesNotMatch(code, /\bimport\b|zod|Zod|\.\.\. \d+ more/);
    assert.match(code, /export type VirtualMachineArgs = \{ host: string; name: string; memory: \{ sizeMiB: number;/);
    assert.match(code, /powerState: "running" \| "stopped" \| "paused";/);
  });
});
