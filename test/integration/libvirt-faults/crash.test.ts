import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ProviderCallError, ProviderHost } from "../../support/provider-host";
import { testbed, uniquePrefix, virsh } from "../../support/testbeds";

const URI = "qemu:///system";
type Props = Record<string, unknown>;
const HOSTS = { NOVACRON_HOSTS: JSON.stringify({ kvm: { driver: "libvirt", uri: URI } }) };

/**
 * Crash safety of VM create against the real libvirtd + QEMU. The VM has a NIC on a network
 * without DHCP, so a create with waitForIp is parked after define+start for as long as we like:
 * the provider host is SIGKILLed there, and a fresh one given the same inputs must adopt the
 * domain (exactly one of that name). A create whose IP wait times out must hand the engine the
 * domain's id (ErrorResourceInitFailed) so it is recorded in state instead of leaked.
 */
describe("libvirt VM create: crash and partial failure (qemu:///system)", function () {
  this.timeout(300_000);
  const prefix = uniquePrefix("cr");
  const network = `${prefix}-net`;
  const subnet = `10.233.${20 + (process.pid % 200)}`;
  let host: ProviderHost;
  const made: { kind: Parameters<ProviderHost["delete"]>[0]; id: string; props: Props }[] = [];

  before(async () => {
    testbed("libvirt.sh");
    host = await ProviderHost.start(HOSTS);
    const net = await host.checkAndCreate("Network", { host: "kvm", name: network, mode: "isolated", cidr: `${subnet}.0/24` });
    made.push({ kind: "Network", id: net.id, props: net.outs });
    assert.doesNotMatch(virsh(URI, "net-dumpxml", network), /<dhcp>/, "the network must not serve DHCP");
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.props).catch((e) => console.error(`cleanup ${r.kind} ${r.id}: ${e}`));
    await host?.stop();
    for (const name of domainsWithPrefix(prefix)) {
      quietly("destroy", name);
      quietly("undefine", name, "--nvram");
    }
    quietly("net-destroy", network);
    quietly("net-undefine", network);
  });

  function vm(name: string, waitSeconds: number): Props {
    return {
      host: "kvm",
      name: `${prefix}-${name}`,
      machine: "pc",
      memory: { sizeMiB: 64 },
      nics: { net0: { network } },
      waitForIp: { timeoutSeconds: waitSeconds },
      updatePolicy: { shutdownTimeoutSeconds: 0 },
    };
  }

  it("SIGKILL of the provider host while create waits for an IP: a new host adopts the domain, no duplicate", async () => {
    const spec = vm("kill", 240);
    const name = String(spec.name);
    const { inputs } = await host.check("VirtualMachine", {}, spec);
    const dying = host.create("VirtualMachine", inputs).then(
      () => "finished",
      (error: Error) => error.message,
    );
    await until(() => host.stderr.join("").includes("waiting for an IP address"), 120_000, "the create reaching the IP wait");
    const uuid = virsh(URI, "domuuid", name).trim();
    assert.match(virsh(URI, "domstate", name), /running/, "defined and started before the kill");
    host.kill();
    assert.notEqual(await dying, "finished", "the killed host never answered the create");

    host = await ProviderHost.start(HOSTS);
    // The same VM again, with a short IP wait: the guest's network has no DHCP, so convergence
    // still cannot get an address — and must say so with the adopted domain recorded.
    const retry = vm("kill", 3);
    const error = await host.create("VirtualMachine", (await host.check("VirtualMachine", {}, retry)).inputs).then(
      () => assert.fail("no DHCP on this network: the adopted VM cannot report an IP"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProviderCallError && error.initFailure, "the adopted domain is recorded in the error");
    made.push({ kind: "VirtualMachine", id: error.initFailure.id, props: error.initFailure.properties });
    assert.equal(error.initFailure.id, uuid, "the second create adopted the domain the killed one made");
    assert.equal(error.initFailure.properties.name, name, "the adopted VM is recorded with its inputs");
    assert.deepEqual(
      domainsWithPrefix(name).filter((n) => n === name),
      [name],
      "exactly one domain of that name",
    );
    assert.match(host.stderr.join(""), /found from an earlier interrupted run/);
    assert.match(virsh(URI, "domstate", name), /running/);
  });

  it("a create whose IP wait times out fails with the domain's id recorded (ErrorResourceInitFailed)", async () => {
    const spec = vm("late", 3);
    const name = String(spec.name);
    const { inputs } = await host.check("VirtualMachine", {}, spec);
    const error = await host.create("VirtualMachine", inputs).then(
      () => assert.fail("the create should have timed out waiting for an IP"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProviderCallError);
    assert.match(error.message, /no DHCP lease for 52:54:00:[0-9a-f:]+ within 3s/);
    const uuid = virsh(URI, "domuuid", name).trim();
    assert.ok(error.initFailure, "the gRPC error carries ErrorResourceInitFailed details");
    made.push({ kind: "VirtualMachine", id: error.initFailure.id, props: error.initFailure.properties });
    assert.equal(error.initFailure.id, uuid);
    assert.equal(error.initFailure.properties.name, name);
    assert.equal(error.initFailure.properties.uuid, uuid);
    assert.match(error.initFailure.reasons.join("\n"), /no DHCP lease/);
    // Secret inputs travel as Pulumi secrets, so state records them encrypted (issue 14).
    assert.ok(error.initFailure.secretKeys.includes("console"), JSON.stringify(error.initFailure.secretKeys));

    // What the engine does next with the recorded id: delete (or update) reaches the same domain.
    await host.delete("VirtualMachine", error.initFailure.id, error.initFailure.properties);
    made.pop();
    assert.deepEqual(domainsWithPrefix(name), []);
  });
});

function domainsWithPrefix(prefix: string): string[] {
  return virsh(URI, "list", "--all", "--name")
    .split("\n")
    .map((n) => n.trim())
    .filter((n) => n.startsWith(prefix));
}

function quietly(...args: string[]): void {
  spawnSync("virsh", ["-c", URI, ...args], { stdio: "ignore", timeout: 60_000 });
}

async function until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
