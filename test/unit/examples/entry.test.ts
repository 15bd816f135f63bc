import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { programEntry } from "../../../examples/run-program";

const REPO = path.resolve(__dirname, "../../..");

/** Every Pulumi project in the repository: the examples and the e2e tier's own programs. */
function projects(): string[] {
  return ["examples", "test/e2e/programs"].flatMap((root) =>
    readdirSync(path.join(REPO, root), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(REPO, root, d.name, "Pulumi.yaml")))
      .map((d) => path.join(REPO, root, d.name)),
  );
}

describe("example programs: the entry the nodejs language host runs", () => {
  it("finds the projects", () => {
    assert.ok(projects().some((p) => p.endsWith("examples/quickstart")));
  });

  for (const dir of projects()) {
    it(`${path.relative(REPO, dir)} runs its own index.ts`, () => {
      assert.equal(programEntry(dir), path.join(dir, "index.ts"));
    });
  }

  it("the policy pack's runner finds the pack's own index.ts through its package.json", () => {
    const pkg = require(path.join(REPO, "examples/policy-pack/package.json")) as { main?: string };
    assert.equal(pkg.main, "index.ts");
  });

  it("a project without `main` inside a package resolves to that package's main (the old quickstart defect)", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "nc-entry-"));
    try {
      writeFileSync(path.join(root, "package.json"), JSON.stringify({ main: "sdk/index.ts" }));
      mkdirSync(path.join(root, "sdk"));
      writeFileSync(path.join(root, "sdk/index.ts"), "");
      mkdirSync(path.join(root, "app"));
      writeFileSync(path.join(root, "app/Pulumi.yaml"), "name: app\nruntime: nodejs\n");
      writeFileSync(path.join(root, "app/index.ts"), "");
      assert.equal(programEntry(path.join(root, "app")), path.join(root, "sdk/index.ts"));
      writeFileSync(path.join(root, "app/Pulumi.yaml"), "name: app\nmain: index.ts\nruntime: nodejs\n");
      assert.equal(programEntry(path.join(root, "app")), path.join(root, "app/index.ts"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
