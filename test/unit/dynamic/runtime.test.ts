import assert from "node:assert/strict";
import { diff } from "../../../provider/dynamic/runtime";
import { HOSTS, VALID_INPUTS } from "../core/fixtures";

describe("dynamic runtime: state written by earlier versions", () => {
  before(() => {
    process.env.NOVACRON_HOSTS = JSON.stringify(HOSTS);
  });
  after(() => {
    delete process.env.NOVACRON_HOSTS;
  });

  it("a Network state holding lastChange/lastChangeClass diffs as unchanged, not as a replace", async () => {
    const network = { ...VALID_INPUTS.Network, bridge: undefined, vlan: undefined, autostart: true, labels: {} };
    const recorded = { ...network, state: "active", lastChange: ["vlan: live (…)"], lastChangeClass: "live" };
    const result = await diff("Network", "id", JSON.parse(JSON.stringify(recorded)), JSON.parse(JSON.stringify(network)));
    assert.deepEqual(result.replaces, []);
    assert.equal(result.changes, false, JSON.stringify(result));
  });
});
