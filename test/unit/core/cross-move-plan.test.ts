import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { classifyChange, refuseForbiddenRestarts } from "../../../provider/core/classify";
import { checkCrossMove } from "../../../provider/core/cross-move";
import { VirtualMachineInputs, type VirtualMachineSpec } from "../../../provider/core/model";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { HOSTS } from "./fixtures";

/** A running KVM VM with two disks it owns (20 GiB in all), the shape a cross-hypervisor move accepts. */
const onKvm = VirtualMachineInputs.parse({
  host: "kvm1",
  name: "web",
  cpu: { cores: 2 },
  memory: { sizeMiB: 1024 },
  disks: { sda: { pool: "images", sizeGiB: 12 }, sdb: { pool: "images", sizeGiB: 8 } },
  nics: { net0: { network: "lab", model: "e1000" } },
  updatePolicy: { allowReboot: true },
});

function toVsphere(change: (vm: VirtualMachineSpec) => void = () => {}): VirtualMachineSpec {
  const next = structuredClone(onKvm);
  next.host = "vc1";
  for (const disk of Object.values(next.disks)) disk.pool = "LocalDS_0";
  change(next);
  return VirtualMachineInputs.parse(next);
}

describe("cross-hypervisor move: planning", () => {
  it("plans a host change to another kind as a cold cross-hypervisor migrate, not a replace", () => {
    const plan = classifyChange("VirtualMachine", onKvm, toVsphere(), capabilitiesOf("vsphere"), true);
    const host = plan.changes.find((c) => c.path === "host");
    assert.equal(host?.disruption, "migrate");
    assert.match(host?.why ?? "", /^cold, cross-hypervisor/);
    assert.match(host?.why ?? "", /20 GiB of disks copied \(2 disks\)/);
    assert.match(host?.why ?? "", /converted to vmdk/);
    assert.match(host?.why ?? "", /shutdown/);
    assert.deepEqual(plan.replaces, []);
    assert.equal(plan.worst, "migrate");
  });

  it("names the target's format in the opposite direction", () => {
    const onVc = toVsphere();
    const back = structuredClone(onKvm);
    const plan = classifyChange("VirtualMachine", onVc, back, capabilitiesOf("libvirt"), true);
    assert.match(plan.changes.find((c) => c.path === "host")?.why ?? "", /converted to qcow2/);
  });

  it("sets other changed fields on the target as part of the move, but keeps a replace", () => {
    const next = toVsphere((vm) => {
      vm.nics.net0.model = "vmxnet3";
      vm.disks.sdb.sizeGiB = 4;
    });
    const plan = classifyChange("VirtualMachine", onKvm, next, capabilitiesOf("vsphere"), true);
    const byPath = Object.fromEntries(plan.changes.map((c) => [c.path, c]));
    assert.equal(byPath["nics.net0.model"].disruption, "migrate");
    assert.match(byPath["nics.net0.model"].why, /part of the cross-hypervisor move/);
    assert.equal(byPath["disks.sda.pool"].disruption, "migrate");
    assert.equal(byPath["disks.sdb.sizeGiB"].disruption, "replace");
  });

  it("needs updatePolicy.allowReboot when the VM runs, not when it is stopped", () => {
    const noConsent = structuredClone(onKvm);
    noConsent.updatePolicy.allowReboot = false;
    const next = toVsphere((vm) => {
      vm.updatePolicy.allowReboot = false;
    });
    const plan = classifyChange("VirtualMachine", noConsent, next, capabilitiesOf("vsphere"), true);
    const [failure] = refuseForbiddenRestarts(plan, noConsent, next);
    assert.equal(failure.property, "host");
    assert.match(failure.reason, /updatePolicy.allowReboot: true/);
    const stopped = { ...noConsent, powerState: "stopped" as const };
    const stoppedNext = { ...next, powerState: "stopped" as const };
    assert.deepEqual(refuseForbiddenRestarts(classifyChange("VirtualMachine", stopped, stoppedNext, capabilitiesOf("vsphere"), true), stopped, stoppedNext), []);
  });

  it("refuses what cannot cross, naming each field", () => {
    const old = VirtualMachineInputs.parse({
      ...onKvm,
      disks: { ...onKvm.disks, sdc: { volume: "images/data" } },
      passthrough: { hostdev0: { device: "gpu-a" } },
    });
    const failures = checkCrossMove(old, toVsphere(), capabilitiesOf("libvirt"), capabilitiesOf("vsphere"));
    const properties = failures.map((f) => f.property);
    assert.ok(properties.includes("passthrough.hostdev0"), properties.join());
    assert.ok(properties.includes("disks.sdc.volume"), properties.join());
    assert.match(failures.find((f) => f.property === "disks.sdc.volume")?.reason ?? "", /"images\/data"/);
  });

  it("refuses a disk size change in the same update as the move, naming the slot", () => {
    const failures = checkCrossMove(
      onKvm,
      toVsphere((vm) => (vm.disks.sda.sizeGiB = 16)),
      capabilitiesOf("libvirt"),
      capabilitiesOf("vsphere"),
    );
    const failure = failures.find((f) => f.property === "disks.sda.sizeGiB");
    assert.match(failure?.reason ?? "", /got 16, was 12; a disk moves at the size it has/);
    assert.equal(
      failures.some((f) => f.property === "disks.sdb.sizeGiB"),
      false,
    );
  });

  it("check() shows the class in plannedChanges and refuses a target feature the target lacks", () => {
    const withKernel = VirtualMachineInputs.parse({ ...onKvm, kernelBoot: { kernel: "/boot/vmlinuz" } });
    const outcome = checkInputs("VirtualMachine", withKernel, { ...toVsphere(), kernelBoot: { kernel: "/boot/vmlinuz" } }, HOSTS, capabilitiesOf);
    assert.ok(
      outcome.failures.some((f) => f.property === "kernelBoot"),
      JSON.stringify(outcome.failures),
    );
    const plain = checkInputs("VirtualMachine", onKvm, toVsphere(), HOSTS, capabilitiesOf);
    const shown = plain.inputs.plannedChanges as string[];
    assert.ok(
      shown.some((line) => line.startsWith("host: migrate (cold, cross-hypervisor")),
      JSON.stringify(shown),
    );
  });
});
