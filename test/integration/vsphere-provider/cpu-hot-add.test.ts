import assert from "node:assert/strict";
import { closeAllSessions, connect, getProperties, MoRef, text, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { readVm } from "../../../provider/drivers/vsphere/vm";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { powerOffEvents, specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * The README's example on vSphere as on KVM: `cpu: { cores: 2, maxVcpus: 8 }`, then `cores: 4`,
 * is a hot-add of the running VM (vSphere adds sockets, keeping cores per socket), and
 * `memory.sizeMiB` within `memory.maxMiB` grows live. Read back over vim25 from the simulator.
 */
describe("vSphere: vCPU and memory hot-add within the ceilings, as on KVM (vcsim)", function () {
  this.timeout(300_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-parity-hotadd");

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

  const bootTime = async (ref: MoRef) => text((await getProperties(client, ref, ["runtime.bootTime"])).props.get("runtime.bootTime"));

  async function liveUpdate(change: (spec: Props) => Props, expected: string[]): Promise<MoRef> {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const [offBefore, bootBefore] = [await powerOffEvents(client, ref), await bootTime(ref)];
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, change(old));
    assert.deepEqual(failures, [], "allowReboot is false: a restart would be refused here");
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      expected,
    );
    const outs = await host.update("VirtualMachine", vm!.id, vm!.outs, inputs);
    vm = { id: vm!.id, outs };
    assert.equal((await readVm(client, ref)).powerState, "poweredOn");
    assert.equal(await powerOffEvents(client, ref), offBefore, "never powered off");
    assert.equal(await bootTime(ref), bootBefore, "the same boot");
    // A refresh reads back exactly what the program says: no perpetual diff.
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    const again = (await host.check("VirtualMachine", {}, specOf(outs))).inputs;
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, again)).changes, false, JSON.stringify(read.inputs.cpu));
    return ref;
  }

  it("creates the README's VM: 2 vCPUs as 2 one-core sockets, CPU and memory hot-add on, running", async () => {
    vm = await host.checkAndCreate("VirtualMachine", {
      host: "vc1",
      name,
      cpu: { cores: 2, maxVcpus: 8 },
      memory: { sizeMiB: 256, maxMiB: 1024 },
      disks: {},
      nics: {},
      updatePolicy: { shutdownTimeoutSeconds: 2 },
    });
    const state = await readVm(client, new MoRef("VirtualMachine", vm.id));
    assert.deepEqual(
      [state.powerState, state.spec.numCPUs, state.spec.numCoresPerSocket, state.spec.cpuHotAddEnabled, state.spec.memoryHotAddEnabled],
      ["poweredOn", 2, 1, true, true],
    );
  });

  it("cores 2 → 4 is planned as a hot-add and applied to the running VM: 4 sockets of 1 core", async () => {
    const ref = await liveUpdate((old) => ({ ...old, cpu: { ...(old.cpu as Props), cores: 4 } }), ["cpu.cores: hotplug"]);
    const state = await readVm(client, ref);
    assert.deepEqual([state.spec.numCPUs, state.spec.numCoresPerSocket], [4, 1]);
  });

  it("memory within memory.maxMiB grows on the running VM", async () => {
    const ref = await liveUpdate((old) => ({ ...old, memory: { ...(old.memory as Props), sizeMiB: 512 } }), ["memory.sizeMiB: hotplug"]);
    assert.equal((await readVm(client, ref)).spec.memoryMB, 512);
  });

  it("reaching the ceiling (cores 8 = maxVcpus) is still live; past it, or removing vCPUs, needs allowReboot", async () => {
    await liveUpdate((old) => ({ ...old, cpu: { ...(old.cpu as Props), cores: 8 } }), ["cpu.cores: hotplug"]);
    const old = specOf(vm!.outs);
    const past = await host.check("VirtualMachine", old, { ...old, cpu: { cores: 10, maxVcpus: 10 } });
    assert.ok(
      past.failures.some((f) => f.property === "cpu.cores" && /exceed the running maximum of 8.*allowReboot/.test(f.reason)),
      JSON.stringify(past.failures),
    );
    const fewer = await host.check("VirtualMachine", old, { ...old, cpu: { cores: 2, maxVcpus: 8 } });
    assert.ok(
      fewer.failures.some((f) => f.property === "cpu.cores" && /cold: vSphere removes CPUs only while the VM is powered off/.test(f.reason)),
      JSON.stringify(fewer.failures),
    );
  });
});
