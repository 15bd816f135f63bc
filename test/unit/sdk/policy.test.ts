import assert from "node:assert/strict";
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { checkInputs } from "../../../provider/core/check";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { VirtualMachine } from "../../../sdk";
import { allowedHosts, consolePasswordRequired, noReplaceOfStatefulVms, passthroughNeedsNumaPinning, requiredLabels, vmSizeCeiling } from "../../../sdk/policy";
import { HOSTS, VALID_INPUTS } from "../core/fixtures";

/** What a policy reports for one VM whose inputs went through check(), as the engine would pass them. */
function violations(policy: ResourceValidationPolicy, spec: Record<string, unknown>, olds?: Record<string, unknown>): string[] {
  const { inputs, failures } = checkInputs("VirtualMachine", olds, spec, HOSTS, capabilitiesOf);
  assert.deepEqual(failures, [], "the spec itself is valid");
  const found: string[] = [];
  const args = { type: VirtualMachine.__pulumiType, props: inputs, urn: "urn:x", name: "web" } as unknown as ResourceValidationArgs;
  const validate = policy.validateResource;
  // The helpers each define one validation function, not a list.
  if (typeof validate !== "function") throw new Error(`${policy.name} has no single validateResource`);
  void validate(args, (message: string) => found.push(message));
  return found;
}

const vm = VALID_INPUTS.VirtualMachine;

describe("sdk policy helpers", () => {
  it("the VM type matches what the sdk class registers", () => {
    assert.equal(VirtualMachine.__pulumiType, "pulumi-nodejs:dynamic/novacron:VirtualMachine");
  });

  it("vmSizeCeiling counts hot-add ceilings", () => {
    const policy = vmSizeCeiling({ maxMemoryMiB: 4096, maxVcpus: 8 });
    assert.deepEqual(violations(policy, vm), []);
    assert.deepEqual(violations(policy, { ...vm, memory: { sizeMiB: 1024, maxMiB: 8192 }, cpu: { cores: 2, maxVcpus: 16 } }), [
      "memory: 8192 MiB exceeds the ceiling of 4096 MiB",
      "cpu: 16 vCPUs exceed the ceiling of 8",
    ]);
  });

  it("passthrough VMs must pin vCPUs and bind NUMA cells to host nodes", () => {
    const policy = passthroughNeedsNumaPinning();
    const gpu = { ...vm, passthrough: { hostdev0: { device: "pci_0000_01_00_0" } } };
    assert.equal(violations(policy, gpu).length, 2);
    const pinned = { ...gpu, cpu: { cores: 2, pinning: { "0": "2", "1": "3" }, numa: [{ vcpus: "0-1", memoryMiB: 1024, hostNode: 1 }] } };
    assert.deepEqual(violations(policy, pinned), []);
    // Limited to the KVM hosts: a passthrough VM on vSphere (which refuses pinning) is left alone.
    assert.deepEqual(violations(passthroughNeedsNumaPinning({ hosts: ["kvm2"] }), gpu), []);
    assert.equal(violations(passthroughNeedsNumaPinning({ hosts: ["kvm1"] }), gpu).length, 2);
  });

  it("consoles need a password; labels are required; hosts are limited", () => {
    assert.deepEqual(violations(consolePasswordRequired(), { ...vm, console: { kind: "vnc" } }), ["console.password: a vnc console needs a password"]);
    assert.deepEqual(violations(consolePasswordRequired(), { ...vm, console: { kind: "vnc", password: "pw" } }), []);
    assert.deepEqual(violations(requiredLabels(["team", "app"]), { ...vm, labels: { app: "x" } }), ["labels: missing team"]);
    assert.deepEqual(violations(allowedHosts(["kvm2"]), vm), ['host: "kvm1" is not an allowed host (allowed: kvm2)']);
  });

  it("a stateful VM is never replaced; an in-place change passes", () => {
    const policy = noReplaceOfStatefulVms();
    const old = { ...vm, stateful: true, memory: { sizeMiB: 1024, maxMiB: 2048 } };
    assert.deepEqual(violations(policy, { ...old, memory: { sizeMiB: 1536, maxMiB: 2048 } }, checkInputs("VirtualMachine", undefined, old, HOSTS, capabilitiesOf).inputs), []);
    const renamed = violations(policy, { ...old, name: "web2" }, checkInputs("VirtualMachine", undefined, old, HOSTS, capabilitiesOf).inputs);
    assert.equal(renamed.length, 1);
    assert.match(renamed[0], /would replace a stateful VM: name: replace/);
  });
});
