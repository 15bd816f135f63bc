import assert from "node:assert/strict";
import { closeAllDrivers } from "../../../provider/drivers/registry";
import * as runtime from "../../../provider/dynamic/runtime";
import { engineView } from "../../support/provider-host";
import { testbed, uniquePrefix, virshMaybe } from "../../support/testbeds";
import { useHosts } from "../../support/hosts";

const URI = "qemu:///system";
const CANARY = "CANARY-b41e07-secret";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
type Props = Record<string, unknown>;

/** The text of `value` with every Pulumi secret wrapper removed: what would be stored in clear. */
function plainPart(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v !== null && typeof v === "object" && SECRET_SIG in v ? "<secret>" : v));
}

/** Issue 14: the canary in every secret field, through the failure paths a real daemon gives. */
describe("libvirt failure paths never show a secret (qemu:///system)", function () {
  this.timeout(120_000);
  const prefix = uniquePrefix("sec");
  const vmName = `${prefix}-vm`;

  before(async () => {
    testbed("libvirt.sh");
    await useHosts({
      kvm: { driver: "libvirt", uri: URI },
      // Nothing listens on port 1: the connection fails, quoting the URI if anything does.
      gone: { driver: "libvirt", uri: `qemu+tcp://admin:${CANARY}@127.0.0.1:1/system` },
    });
  });

  after(async () => {
    virshMaybe(URI, "destroy", vmName);
    virshMaybe(URI, "undefine", vmName);
    await closeAllDrivers();
    delete process.env.NOVACRON_HOSTS;
  });

  it("a partial create's error carries the console password and user data only as Pulumi secrets", async () => {
    const { inputs, failures } = await runtime.check(
      "VirtualMachine",
      {},
      {
        host: "kvm",
        name: vmName,
        machine: "pc",
        cpu: { cores: 1 },
        memory: { sizeMiB: 64 },
        console: { kind: "spice", password: CANARY },
        // No NIC: the IP wait cannot succeed, so create fails after the VM exists.
        waitForIp: { timeoutSeconds: 1 },
        updatePolicy: { shutdownTimeoutSeconds: 0 },
      },
    );
    assert.deepEqual(failures, []);
    // check answers the console as a Pulumi secret; the engine hands it on to create unwrapped.
    assert.ok(!("kind" in (inputs.console as Props)) && "value" in (inputs.console as Props), "the console input comes back as a secret wrapper");
    const engineInputs = engineView(inputs) as Props;
    let caught: (Error & { id?: string; properties?: Props; reasons?: string[] }) | undefined;
    await runtime.create("VirtualMachine", engineInputs).catch((e) => (caught = e));
    assert.ok(caught?.id, `expected a partial create, got ${caught}`);
    assert.ok(!caught.message.includes(CANARY));
    assert.ok(!JSON.stringify(caught.reasons).includes(CANARY));
    assert.ok(!plainPart(caught.properties).includes(CANARY), plainPart(caught.properties));
    const consoleProp = caught.properties?.console as Props;
    assert.equal((consoleProp.value as Props).password, CANARY, "recorded, as a secret");
    await runtime.remove("VirtualMachine", caught.id!, { ...engineInputs, console: { kind: "spice", listen: "127.0.0.1", password: CANARY } });
  });

  it("a connection error does not repeat the password in the host's URI", async () => {
    const { inputs } = await runtime.check("Network", {}, { host: "gone", name: `${prefix}-net`, mode: "isolated", cidr: "10.233.1.0/24" });
    await assert.rejects(runtime.create("Network", inputs as Props), (error: Error) => {
      assert.ok(!error.message.includes(CANARY), error.message);
      return true;
    });
  });
});
