import assert from "node:assert/strict";
import { child, closeAllSessions, connect, getProperties, MoRef, num, text, type VimClient, xsiType } from "../../../provider/drivers/vsphere/soap";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { powerOffEvents, specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * CD-ROM drives on vSphere through the provider host, read back from the simulator's device
 * list: an ISO drive on IDE and an empty one on a SATA controller NovaCron adds; the disc is
 * changed on the running VM without a power-off; a removed drive is gone.
 */
describe("vSphere: CD-ROM drives with ISO images (vcsim)", function () {
  this.timeout(120_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-cdrom");

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

  /** Drives as the server has them: controller type and bus, unit, ISO file. */
  async function drives(): Promise<string[]> {
    const config = (await getProperties(client, new MoRef("VirtualMachine", vm!.id), ["config"])).props.get("config");
    const devices = (child(config, "hardware")?.children ?? []).filter((d) => d.name === "device");
    const controllers = new Map(devices.map((d) => [num(d, "key"), `${xsiType(d)}#${num(d, "busNumber")}`]));
    return devices
      .filter((d) => xsiType(d) === "VirtualCdrom")
      .map((d) => `${controllers.get(num(d, "controllerKey"))}:${num(d, "unitNumber")} ${text(child(d, "backing"), "fileName") ?? "(empty)"}`)
      .sort();
  }

  async function update(change: (spec: Props) => Props): Promise<string[]> {
    const old = specOf(vm!.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, change(old));
    assert.deepEqual(failures, []);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    const again = (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs;
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, again)).changes, false, JSON.stringify(read.inputs.cdroms));
    return inputs.plannedChanges as string[];
  }

  it("refuses at preview an ISO path that is not on a datastore, naming the form that works", async () => {
    const { failures } = await host.check("VirtualMachine", {}, { host: "vc1", name, memory: { sizeMiB: 256 }, cdroms: { hdc: { image: "/srv/x.iso" } } });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["cdroms.hdc.image"],
    );
    assert.match(failures[0]!.reason, /\/vmfs\/volumes\/<datastore>\/<path>\.iso/);
  });

  it("creates a running VM with an ISO on IDE (hdc) and an empty SATA drive; read shows no difference", async () => {
    const created = await host.checkAndCreate("VirtualMachine", {
      host: "vc1",
      name,
      memory: { sizeMiB: 256 },
      cdroms: { hdc: { image: "/vmfs/volumes/LocalDS_0/iso/install.iso" }, sata1: {} },
    });
    vm = created;
    assert.deepEqual(await drives(), ["VirtualAHCIController#0:1 (empty)", "VirtualIDEController#1:0 [LocalDS_0] iso/install.iso"]);
    await update((s) => s);
  });

  it("changes the disc of the running VM live (no power-off) and ejects the other", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const offs = await powerOffEvents(client, ref);
    const planned = await update((s) => ({ ...s, cdroms: { hdc: {}, sata1: { image: "/vmfs/volumes/LocalDS_0/iso/tools.iso" } } }));
    assert.deepEqual(planned.map((l) => l.split(" (")[0]).sort(), ["cdroms.hdc.image: live", "cdroms.sata1.image: live"]);
    assert.equal(await powerOffEvents(client, ref), offs, "never powered off");
    assert.deepEqual(await drives(), ["VirtualAHCIController#0:1 [LocalDS_0] iso/tools.iso", "VirtualIDEController#1:0 (empty)"]);
  });

  it("removing a drive is a cold change: applied with allowReboot, and the drive is gone", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const offs = await powerOffEvents(client, ref);
    await update((s) => ({ ...s, cdroms: { sata1: (s.cdroms as Props).sata1 }, updatePolicy: { ...(s.updatePolicy as Props), allowReboot: true, shutdownTimeoutSeconds: 1 } }));
    assert.deepEqual(await drives(), ["VirtualAHCIController#0:1 [LocalDS_0] iso/tools.iso"]);
    assert.ok((await powerOffEvents(client, ref)) > offs, "the VM was powered off for it");
  });
});
