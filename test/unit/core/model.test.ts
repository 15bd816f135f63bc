import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { RESOURCE_KINDS, type ResourceKind } from "../../../provider/core/model";
import { UNKNOWN } from "../../../provider/core/unknown";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { HOSTS, VALID_INPUTS } from "./fixtures";

function check(kind: ResourceKind, news: Record<string, unknown>, olds?: Record<string, unknown>) {
  return checkInputs(kind, olds, news, HOSTS, capabilitiesOf);
}

function failureFor(kind: ResourceKind, news: Record<string, unknown>, property: string) {
  const { failures } = check(kind, news);
  const hit = failures.find((f) => f.property === property);
  assert.ok(hit, `expected a failure at ${property}, got ${JSON.stringify(failures)}`);
  return hit.reason;
}

describe("model: valid input for every resource", () => {
  for (const kind of RESOURCE_KINDS) {
    it(`${kind} accepts its minimal spec and fills defaults`, () => {
      const { inputs, failures } = check(kind, VALID_INPUTS[kind]);
      assert.deepEqual(failures, []);
      assert.equal(inputs.host, VALID_INPUTS[kind].host);
    });
  }

  it("normalises a VM: bus from slot, defaults, lower-case MAC", () => {
    const { inputs } = check("VirtualMachine", {
      ...VALID_INPUTS.VirtualMachine,
      disks: { scsi0: { volume: "v1" }, vda: { volume: "v2" } },
      nics: { net0: { network: "lab", mac: "52:54:00:AB:CD:EF" } },
    });
    const vm = inputs as {
      disks: Record<string, { bus: string; cache: string }>;
      nics: Record<string, { mac: string; model: string }>;
      powerState: string;
      cpu: { mode: string; sockets: number };
    };
    assert.equal(vm.disks.scsi0.bus, "virtio-scsi");
    assert.equal(vm.disks.vda.bus, "virtio-blk");
    assert.equal(vm.disks.vda.cache, "none");
    assert.equal(vm.nics.net0.mac, "52:54:00:ab:cd:ef");
    assert.equal(vm.nics.net0.model, "virtio");
    assert.equal(vm.powerState, "running");
    assert.equal(vm.cpu.mode, "host-model");
    assert.equal(vm.cpu.sockets, 1);
  });
});

describe("model: invalid input names the field, the value and what is accepted", () => {
  const vm = VALID_INPUTS.VirtualMachine;
  const cases: [ResourceKind, Record<string, unknown>, string, RegExp][] = [
    ["VirtualMachine", { ...vm, powerState: "on" }, "powerState", /"on".*accepted: "running", "stopped", "paused"/],
    ["VirtualMachine", { ...vm, memory: { sizeMiB: 0 } }, "memory.sizeMiB", /got 0; must be at least 1/],
    ["VirtualMachine", { ...vm, cpu: { cores: 1.5 } }, "cpu.cores", /got 1.5; expected a whole number/],
    ["VirtualMachine", { ...vm, cpu: { corez: 2 } }, "cpu", /unknown field\(s\) cpu.corez/],
    ["VirtualMachine", { ...vm, disks: { xvda: { volume: "x" } } }, "disks.xvda", /"xvda" is not accepted.*vda-vdzz/],
    ["VirtualMachine", { ...vm, disks: { vda: { volume: "x", sizeGiB: 3, pool: "p" } } }, "disks.vda", /either `volume`/],
    ["VirtualMachine", { ...vm, nics: { net0: {} } }, "nics.net0", /exactly one of `network`, `bridge`, `sriovPool`, `direct`, `user: true` or `ethernet`/],
    ["VirtualMachine", { ...vm, nics: { net0: { network: "lab", mac: "zz" } } }, "nics.net0.mac", /"zz".*MAC address/],
    ["VirtualMachine", { ...vm, cpu: { cores: 2, pinning: { "5": "1" } } }, "cpu.pinning.5", /vCPU 5 does not exist; this VM has vCPUs 0-1/],
    ["VirtualMachine", { ...vm, cpu: { cores: 2, numa: [{ vcpus: "0-1", memoryMiB: 2048 }] } }, "cpu.numa", /2048 MiB.*must add up to memory.sizeMiB \(1024\)/],
    ["VirtualMachine", { ...vm, firmware: { secureBoot: true } }, "firmware.secureBoot", /needs firmware.type "uefi"/],
    ["VirtualMachine", { ...vm, host: "kvm9" }, "host", /"kvm9".*not in the stack config novacron:hosts \(configured: kvm1, kvm2/],
    ["VirtualMachine", { ...vm, memory: undefined }, "memory", /is required/],
    ["StoragePool", { host: "kvm1", name: "p", kind: "dir" }, "path", /required for kind "dir"/],
    ["StoragePool", { host: "kvm1", name: "p", kind: "nfs", path: "/x" }, "kind", /"nfs".*accepted: "dir", "fs"/],
    ["Volume", { host: "kvm1", pool: "p", name: "v" }, "sizeGiB", /required for a blank volume/],
    ["Volume", { host: "kvm1", pool: "p", name: "v", cloneFrom: "a", uploadFrom: "/b" }, "uploadFrom", /cannot be combined with cloneFrom/],
    ["Network", { host: "kvm1", name: "n", mode: "nat" }, "cidr", /required for mode "nat"/],
    ["Network", { host: "kvm1", name: "n", mode: "isolated", cidr: "10.0.0.0/24", dhcp: { start: "10.0.1.5" } }, "dhcp.start", /"10.0.1.5"; must be inside 10.0.0.0\/24/],
    ["PassthroughDevice", { host: "kvm1", kind: "gpu" }, "pciAddress", /exactly one selector/],
    ["PassthroughDevice", { host: "kvm1", kind: "gpu", pciAddress: "01:00.0" }, "pciAddress", /"01:00.0".*0000:01:00.0/],
    ["Snapshot", { host: "kvm1", vm: "web", name: "bad name!" }, "name", /"bad name!"/],
  ];
  for (const [kind, input, property, pattern] of cases) {
    it(`${kind}.${property}: ${pattern.source.slice(0, 50)}`, () => {
      assert.match(failureFor(kind, input, property), pattern);
    });
  }

  it("never echoes a secret value in an error", () => {
    const { failures } = check("VirtualMachine", { ...vm, cloudInit: { userData: 12345 } });
    const text = JSON.stringify(failures);
    assert.match(text, /cloudInit.userData/);
    assert.doesNotMatch(text, /12345/);
  });
});

describe("model: preview unknowns", () => {
  it("lets unknown values through and checks the rest", () => {
    const { failures } = check("VirtualMachine", { ...VALID_INPUTS.VirtualMachine, disks: { vda: { volume: UNKNOWN } }, memory: { sizeMiB: UNKNOWN } });
    assert.deepEqual(failures, []);
  });
  it("still reports known mistakes next to unknowns", () => {
    const { failures } = check("VirtualMachine", { ...VALID_INPUTS.VirtualMachine, memory: { sizeMiB: UNKNOWN }, powerState: "on" });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["powerState"],
    );
  });
});
