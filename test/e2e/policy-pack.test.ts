import assert from "node:assert/strict";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { EngineLog, exampleStack, useRealEngine } from "../support/engine";
import { REPO, uniquePrefix } from "../support/testbeds";

/**
 * examples/policy-pack run by the real engine the way `pulumi preview --policy-pack` runs it:
 * the CLI starts it through `pulumi-analyzer-policy` and Pulumi's own policy runner.
 */
describe("e2e: the example policy pack under the real engine", function () {
  this.timeout(300_000);
  let stack: Stack;

  before(async () => {
    useRealEngine();
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/unlabelled"), uniquePrefix("pol"));
  });

  after(async () => {
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
  });

  it("blocks a violating preview, naming each policy and the resource", async () => {
    const log = new EngineLog();
    await assert.rejects(stack.preview({ policyPacks: [path.join(REPO, "examples/policy-pack")], onEvent: log.onEvent, onOutput: log.onOutput }));
    const violations = log.violations();
    assert.ok(
      violations.some((v) => v.startsWith("novacron-guardrails/novacron-required-labels:")),
      violations.join("\n") || log.all(),
    );
    assert.ok(
      violations.some((v) => v.startsWith("novacron-guardrails/novacron-vm-size-ceiling:") && /131072/.test(v)),
      violations.join("\n"),
    );
    assert.match(log.all(), /mandatory/);
  });

  it("the same preview without the pack succeeds: the program itself is valid", async () => {
    const result = await stack.preview();
    assert.equal(result.changeSummary.create, 2);
  });
});
