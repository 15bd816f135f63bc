import assert from "node:assert/strict";
import { UNKNOWN } from "../../../provider/core/unknown";
import { check, diff } from "../../../provider/dynamic/runtime";
import { HOSTS, VALID_INPUTS } from "./fixtures";
import { useHosts } from "../../support/hosts";
import { engineView } from "../../support/provider-host";

type Props = Record<string, unknown>;

/**
 * Issue 14, "Previews in CI must not cry wolf": an input whose whole value is unknown at
 * preview (it comes from a resource not made yet) may change; it is classified by its own
 * rules, never answered with a replace of fields nobody touched.
 */
describe("preview with whole inputs unknown", () => {
  let recorded: Props;
  before(async () => {
    await useHosts(HOSTS);
    const first = await check("VirtualMachine", {}, { ...VALID_INPUTS.VirtualMachine, cloudInit: { userData: "#cloud-config\n" }, labels: { team: "web" } });
    assert.deepEqual(first.failures, []);
    // As the engine hands recorded inputs back to a provider: secrets (cloudInit) unwrapped.
    recorded = { ...(engineView(first.inputs) as Props), state: "running", uuid: "u-1" };
  });
  after(() => {
    delete process.env.NOVACRON_HOSTS;
  });

  const expected: Record<string, string> = { cpu: "reboot", memory: "reboot", disks: "cold", nics: "cold", cloudInit: "reboot", labels: "live" };
  for (const [field, worst] of Object.entries(expected)) {
    it(`${field} unknown: normalised inputs, a change, no replace`, async () => {
      const news = { ...VALID_INPUTS.VirtualMachine, cloudInit: { userData: "#cloud-config\n" }, labels: { team: "web" }, [field]: UNKNOWN };
      const checked = await check("VirtualMachine", recorded, news);
      assert.deepEqual(checked.failures, []);
      const inputs = engineView(checked.inputs) as Props;
      assert.equal(inputs[field], UNKNOWN);
      // Defaults of the fields that are known are filled in, as in state.
      assert.deepEqual(inputs.firmware, recorded.firmware);
      assert.deepEqual(inputs.passthrough, recorded.passthrough);
      const result = await diff("VirtualMachine", "u-1", recorded, inputs);
      assert.equal(result.changes, true);
      assert.deepEqual(result.replaces, [], `${field}: ${JSON.stringify(result)}`);
      assert.equal(result.deleteBeforeReplace, false);
      // The field's own rules, at their worst fixed answer.
      const { classifyChange } = await import("../../../provider/core/classify");
      const { capabilitiesOf } = await import("../../../provider/drivers/registry");
      const { state: _state, uuid: _uuid, ...recordedInputs } = recorded;
      const plan = classifyChange("VirtualMachine", recordedInputs, inputs, capabilitiesOf("libvirt"));
      assert.deepEqual(
        plan.changes.map((c) => [c.path, c.disruption]),
        [[field, worst]],
      );
    });
  }

  it("an unknown field whose own rule replaces still says so (firmware)", async () => {
    const checked = await check("VirtualMachine", recorded, {
      ...VALID_INPUTS.VirtualMachine,
      cloudInit: { userData: "#cloud-config\n" },
      labels: { team: "web" },
      firmware: UNKNOWN,
    });
    const result = await diff("VirtualMachine", "u-1", recorded, engineView(checked.inputs) as Props);
    assert.deepEqual(result.replaces, ["firmware"]);
  });
});
