import assert from "node:assert/strict";
import { child, closeAllSessions, connect, getProperties, MoRef, runTask, text, type VimClient, xsiType } from "../../../provider/drivers/vsphere/soap";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * A virtual TPM and CPU scheduling affinity through the provider host, read back from the
 * simulator's own VirtualMachineConfigInfo: the VirtualTPM device and cpuAffinity.affinitySet.
 */
describe("vSphere: vTPM and CPU scheduling affinity (vcsim)", function () {
  this.timeout(120_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-tpm-affinity");

  before(async () => {
    const sim = vcsim();
    const vc = { driver: "vsphere", url: sim.url, username: sim.username, password: sim.password, datacenter: DATACENTER, caFile: sim.caFile };
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: { ...vc, cluster: "DC0_C0", host: "DC0_C0_H0", datastore: "LocalDS_0" } }) });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  async function onServer(): Promise<{ tpm: number; affinity: number[] }> {
    const config = (await getProperties(client, new MoRef("VirtualMachine", vm!.id), ["config"])).props.get("config");
    const devices = (child(config, "hardware")?.children ?? []).filter((d) => d.name === "device");
    const affinity = (child(config, "cpuAffinity")?.children ?? []).filter((c) => c.name === "affinitySet").map((c) => Number(text(c)));
    return { tpm: devices.filter((d) => xsiType(d) === "VirtualTPM").length, affinity };
  }

  async function noDiff(): Promise<void> {
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    const again = (await host.check("VirtualMachine", {}, specOf(vm!.outs))).inputs;
    assert.equal((await host.diff("VirtualMachine", vm!.id, read.props, again)).changes, false, JSON.stringify(read.inputs));
  }

  it("creates a UEFI VM with a vTPM, every vCPU on host CPUs 0-1: one VirtualTPM, affinitySet [0, 1]; read shows no difference", async () => {
    vm = await host.checkAndCreate("VirtualMachine", {
      host: "vc1",
      name,
      cpu: { cores: 2, pinning: { "0": "0-1", "1": "0-1" } },
      memory: { sizeMiB: 256 },
      firmware: { type: "uefi", tpm: true },
      powerState: "stopped",
    });
    assert.deepEqual(await onServer(), { tpm: 1, affinity: [0, 1] });
    await noDiff();
  });

  it("an affinity edited in vCenter is read back as drift, one set for every vCPU", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    await runTask(client, "ReconfigVM_Task", ref, { spec: { cpuAffinity: { affinitySet: [1] } } });
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    assert.deepEqual((read.inputs.cpu as Props).pinning, { "0": "1", "1": "1" });
  });

  it("removing the TPM and the pinning removes the device and lifts the affinity", async () => {
    const old = specOf(vm!.outs);
    const { pinning: _dropped, ...cpu } = old.cpu as Props;
    const next = { ...old, cpu, firmware: { type: "uefi", tpm: false } };
    const { inputs, failures } = await host.check("VirtualMachine", old, next);
    assert.deepEqual(failures, []);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    assert.deepEqual(await onServer(), { tpm: 0, affinity: [] });
    await noDiff();
  });
});
