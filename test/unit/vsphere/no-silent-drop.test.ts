import assert from "node:assert/strict";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../../provider/core/model";
import { BASE_VM, FIELD_PROBES } from "../../../provider/drivers/parity/cases";
import { computeParityMatrix } from "../../../provider/drivers/parity/matrix";
import { MoRef } from "../../../provider/drivers/vsphere/soap";
import { toVmSpec } from "../../../provider/drivers/vsphere/translate";

/**
 * Every optional field the parity matrix shows as supported on vSphere must change what the
 * driver asks vCenter for: a field accepted at preview and then dropped would be a ✓ the VM never
 * gets (as disk and NIC bootOrder once were). Fields applied outside the VM's config say where.
 */
const APPLIED_ELSEWHERE: Record<string, string> = {
  powerState: "a power action (suspend), not part of the VM's configuration",
  "cpu.threads": "vSphere shows guests no SMT siblings: threads count as cores of the socket, giving the same vCPUs and cores per socket as the base VM's 2 cores",
};

describe("vSphere: no field the matrix accepts is dropped by the translation", () => {
  const matrix = computeParityMatrix();
  const binding = { kind: "standard", network: new MoRef("Network", "network-7"), name: "VM Network" } as const;
  const pci = { id: "0000:00:0f.0", vendorId: "15ad", deviceId: "0405", systemId: "sys", deviceName: "SVGA" };
  const translate = (spec: Record<string, unknown>) => {
    const parsed = RESOURCE_MODELS.VirtualMachine.schema.parse({ ...spec, host: "vsphere" }) as VirtualMachineSpec;
    const networks = Object.fromEntries(Object.keys(parsed.nics).map((slot) => [slot, binding]));
    const passthrough = Object.fromEntries(Object.keys(parsed.passthrough).map((slot) => [slot, pci]));
    return JSON.stringify(toVmSpec(parsed, networks, passthrough));
  };
  const base = translate(BASE_VM);

  for (const probe of FIELD_PROBES) {
    const key = probe.key ?? probe.field;
    const cell = matrix.fields.find((r) => r.key === key)?.cells.vsphere;
    if (cell?.status !== "supported") continue;
    it(`${key} (${probe.title}) reaches vCenter`, () => {
      const spec = typeof probe.spec === "function" ? probe.spec("vsphere") : probe.spec;
      if (APPLIED_ELSEWHERE[key]) {
        assert.equal(translate(spec), base, `${key} is listed as applied elsewhere, so it must not change the config; remove it from the list`);
        return;
      }
      assert.notEqual(translate(spec), base, `${key} is accepted for vSphere but the driver sends the same config as without it`);
    });
  }
});
