import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { packageSchema } from "../../../provider/dynamic/schema";

describe("schema.json", () => {
  const repo = path.resolve(__dirname, "../../..");
  const committed = JSON.parse(readFileSync(path.join(repo, "schema.json"), "utf8")) as Record<string, unknown>;
  const version = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string }).version;

  it("matches the model (run `npm run schema` after changing provider/core/model)", () => {
    assert.deepEqual(committed, JSON.parse(JSON.stringify(packageSchema(version))));
  });

  it("declares secrets, required inputs and replace-on-change fields", () => {
    const schema = packageSchema(version) as {
      resources: Record<string, { requiredInputs: string[]; replaceOnChanges?: string[] }>;
      types: Record<string, { properties: Record<string, { secret?: boolean }> }>;
    };
    const vm = schema.resources["novacron:index:VirtualMachine"];
    assert.deepEqual(vm.requiredInputs.sort(), ["host", "memory", "name"]);
    assert.ok(vm.replaceOnChanges?.includes("name"));
    // Replacing on a VLAN change is libvirt's rule only; vSphere changes a portgroup's VLAN in place.
    assert.ok(!schema.resources["novacron:index:Network"].replaceOnChanges?.includes("vlan"));
    assert.equal(schema.types["novacron:index:VirtualMachineCloudInit"].properties.userData.secret, true);
    assert.equal(schema.types["novacron:index:VirtualMachineConsole"].properties.password.secret, true);
  });
});
