import assert from "node:assert/strict";
import { read, remove } from "../../../provider/dynamic/runtime";
import { HOSTS } from "../core/fixtures";

/** Issue 9: refresh and destroy of state this version does not accept answer with a message, never a stack trace. */
describe("dynamic runtime: unreadable recorded state", () => {
  before(() => {
    process.env.NOVACRON_HOSTS = JSON.stringify(HOSTS);
  });
  after(() => {
    delete process.env.NOVACRON_HOSTS;
  });

  const noFrames = (e: Error) => !/\n\s+at /.test(e.stack ?? "");

  it("delete of a state with no host says so, with no stack frames", async () => {
    await assert.rejects(remove("VirtualMachine", "id-1", { name: "web", memory: { sizeMiB: 512 } }), (e: Error) => {
      assert.match(e.message, /recorded state cannot be used even leniently: host/);
      assert.ok(noFrames(e), e.stack);
      return true;
    });
  });

  it("refresh of a state naming a host the stack no longer configures says so, with no stack frames", async () => {
    await assert.rejects(
      read("VirtualMachine", "id-1", { host: "gone", name: "web", memory: { sizeMiB: 512 }, disks: { vdb: { volume: "/x", cache: "default" } } }),
      (e: Error) => {
        assert.match(e.message, /host "gone" is not in the stack config novacron:hosts/);
        assert.ok(noFrames(e), e.stack);
        return true;
      },
    );
  });
});
