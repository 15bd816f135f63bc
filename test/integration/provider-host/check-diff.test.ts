import assert from "node:assert/strict";
import { RESOURCE_KINDS } from "../../../provider/core/model";
import { UNKNOWN } from "../../../provider/core/unknown";
import { ProviderHost, serializedProvider } from "../../support/provider-host";
import { HOSTS, VALID_INPUTS } from "../../unit/core/fixtures";

/** Configure/Check/Diff through Pulumi's real dynamic provider host, for every resource kind. */
describe("provider host: configure, check and diff over gRPC", function () {
  this.timeout(60_000);
  let host: ProviderHost;

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: "" });
    await host.configure({ "novacron:hosts": JSON.stringify(HOSTS) });
  });
  after(async () => host?.stop());

  for (const kind of RESOURCE_KINDS) {
    it(`${kind}: valid input is normalised, invalid input fails with the field`, async () => {
      const ok = await host.check(kind, {}, VALID_INPUTS[kind]);
      assert.deepEqual(ok.failures, []);
      const filledIn = Object.keys(ok.inputs).filter((k) => !(k in VALID_INPUTS[kind]));
      assert.ok(filledIn.length > 0 || kind === "Snapshot", `defaults were filled in (added: ${filledIn.join(", ")})`);
      const bad = await host.check(kind, {}, { ...VALID_INPUTS[kind], host: "nowhere" });
      assert.equal(bad.failures[0].property, "host");
      assert.match(bad.failures[0].reason, /"nowhere".*configured: kvm1, kvm2, vc1/);
    });

    it(`${kind}: the serialized provider is small and holds no credential`, async () => {
      const text = await serializedProvider(kind);
      assert.ok(text.length < 4096, `provider is ${text.length} bytes`);
      for (const secret of ["s3cret-vc", "s3cret-token", "s3cret-xcp"]) assert.ok(!text.includes(secret));
      assert.doesNotMatch(text, /zod|ssh2|undici/, "no client library captured by value");
    });
  }

  it("refuses a capability the target lacks, naming the driver's reason", async () => {
    const spec = { ...VALID_INPUTS.VirtualMachine, host: "hv1", disks: { scsi0: { volume: "v" } }, cpu: { cores: 2, pinning: { "0": "1" } } };
    const { failures } = await host.check("VirtualMachine", {}, spec);
    assert.deepEqual(failures, [{ property: "cpu.pinning", reason: "Hyper-V does not support vCPU pinning" }]);
  });

  it("lets preview unknowns through", async () => {
    const { failures } = await host.check("VirtualMachine", {}, { ...VALID_INPUTS.VirtualMachine, disks: { vda: { volume: UNKNOWN } } });
    assert.deepEqual(failures, []);
  });

  it("diff: a live change is an update, a rename is a replace, no change is no change", async () => {
    const { inputs: old } = await host.check("VirtualMachine", {}, { ...VALID_INPUTS.VirtualMachine, memory: { sizeMiB: 1024, maxMiB: 2048 } });
    const state = { ...old, state: "running", uuid: "u-1" };
    const same = await host.diff("VirtualMachine", "web", state, old);
    assert.deepEqual(same, { changes: false, replaces: [], deleteBeforeReplace: false });

    const { inputs: bigger, failures } = await host.check("VirtualMachine", old, { ...old, memory: { sizeMiB: 1536, maxMiB: 2048 } });
    assert.deepEqual(failures, []);
    assert.match(String((bigger.plannedChanges as string[])[0]), /^memory.sizeMiB: live/);
    const live = await host.diff("VirtualMachine", "web", state, bigger);
    assert.deepEqual(live, { changes: true, replaces: [], deleteBeforeReplace: false });

    const { inputs: renamed } = await host.check("VirtualMachine", old, { ...old, name: "web2" });
    const replace = await host.diff("VirtualMachine", "web", state, renamed);
    assert.deepEqual(replace, { changes: true, replaces: ["name"], deleteBeforeReplace: true });
  });

  it("a reboot-class change with reboots forbidden fails check with the field and the fix", async () => {
    const { inputs: old } = await host.check("VirtualMachine", {}, VALID_INPUTS.VirtualMachine);
    const { failures } = await host.check("VirtualMachine", old, { ...old, machine: "pc" });
    assert.equal(failures[0].property, "machine");
    assert.match(failures[0].reason, /updatePolicy.allowReboot: true/);
  });

  it("a host that cannot be managed yet says so instead of pretending", async () => {
    const spec = { ...VALID_INPUTS.VirtualMachine, host: "hv1" };
    const { inputs } = await host.check("VirtualMachine", {}, spec);
    await assert.rejects(host.create("VirtualMachine", inputs), /Hyper-V driver can validate specs but cannot manage resources yet/);
  });
});
