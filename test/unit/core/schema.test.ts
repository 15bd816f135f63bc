import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { generatePackageSchema } from "../../../provider/core/schema/generate";

describe("schema.json", () => {
  const repo = path.resolve(__dirname, "../../..");
  const committed = JSON.parse(readFileSync(path.join(repo, "schema.json"), "utf8")) as Record<string, unknown>;
  const version = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string }).version;

  it("matches the model (run `npm run schema` after changing provider/core/model)", () => {
    assert.deepEqual(committed, JSON.parse(JSON.stringify(generatePackageSchema(version))));
  });

  it("declares secrets, required inputs and replace-on-change fields", () => {
    const schema = generatePackageSchema(version) as { resources: Record<string, { requiredInputs: string[]; replaceOnChanges?: string[] }>; types: Record<string, { properties: Record<string, { secret?: boolean }> }> };
    const vm = schema.resources["novacron:index:VirtualMachine"];
    assert.deepEqual(vm.requiredInputs.sort(), ["host", "memory", "name"]);
    assert.ok(vm.replaceOnChanges?.includes("name"));
    assert.equal(schema.types["novacron:index:VirtualMachineCloudInit"].properties.userData.secret, true);
    assert.equal(schema.types["novacron:index:VirtualMachineConsole"].properties.password.secret, true);
  });
});
