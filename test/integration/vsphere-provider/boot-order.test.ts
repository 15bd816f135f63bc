import assert from "node:assert/strict";
import { closeAllSessions, connect, getProperties, MoRef, num, text, xsiType, type VimClient } from "../../../provider/drivers/vsphere/soap";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { powerOffEvents, specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * vCenter's boot order for the VM, each entry named by the device it points at: "net0" for a NIC
 * (its externalId carries the slot), "disk:<unit>" for a disk on the SCSI controller.
 */
async function bootOrder(client: VimClient, vm: MoRef): Promise<string[]> {
  const props = (await getProperties(client, vm, ["config.bootOptions", "config.hardware.device"])).props;
  const devices = new Map<number, string>();
  for (const d of props.get("config.hardware.device")?.children ?? []) {
    const key = num(d, "key")!;
    const slot = text(d, "externalId")?.replace(/^novacron:/, "");
    if (xsiType(d) === "VirtualDisk") devices.set(key, `disk:${num(d, "unitNumber")}`);
    else if (slot) devices.set(key, slot);
  }
  return (props.get("config.bootOptions")?.children ?? [])
    .filter((c) => c.name === "bootOrder")
    .map((e) => `${xsiType(e)?.replace("VirtualMachineBootOptionsBootable", "")} ${devices.get(num(e, "deviceKey")!) ?? "?"}`);
}

/** Disk and NIC boot order on vSphere (bootOptions.bootOrder), read from vCenter itself. */
describe("vSphere boot order through the provider host (vcsim)", function () {
  this.timeout(600_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props } | undefined;
  const name = uniqueName("nc-boot");

  before(async function () {
    this.timeout(300_000);
    const sim = vcsim();
    const vc = { driver: "vsphere", url: sim.url, username: sim.username, password: sim.password, datacenter: DATACENTER, caFile: sim.caFile };
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ vc1: { ...vc, cluster: "DC0_C0", datastore: "LocalDS_0", host: "DC0_C0_H0" } }) });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await closeAllSessions();
  });

  it("a new VM boots from the NIC, then the disk, as the spec numbers them", async () => {
    vm = await host.checkAndCreate("VirtualMachine", {
      host: "vc1",
      name,
      memory: { sizeMiB: 256 },
      disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 1, bootOrder: 2 } },
      nics: { net0: { network: "VM Network", bootOrder: 1 } },
    });
    assert.deepEqual(await bootOrder(client, new MoRef("VirtualMachine", vm.id)), ["EthernetDevice net0", "DiskDevice disk:0"]);
    const read = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.deepEqual([(read.inputs.disks as Record<string, Props>).scsi0!.bootOrder, (read.inputs.nics as Record<string, Props>).net0!.bootOrder], [2, 1]);
    const again = (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs;
    assert.equal((await host.diff("VirtualMachine", vm.id, read.props, again)).changes, false);
  });

  it("a reordering with a disk added first in line is live: one update, no power-off, the new disk's key in the order", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    const old = specOf(vm!.outs);
    const offBefore = await powerOffEvents(client, ref);
    const { inputs, failures } = await host.check("VirtualMachine", old, {
      ...old,
      disks: { scsi0: { pool: "LocalDS_0", sizeGiB: 1, bootOrder: 3 }, scsi1: { pool: "LocalDS_0", sizeGiB: 1, bootOrder: 1 } },
      nics: { net0: { network: "VM Network", bootOrder: 2 } },
    });
    assert.deepEqual(failures, []);
    const planned = (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]).sort();
    assert.deepEqual(planned, ["disks.scsi0.bootOrder: live", "disks.scsi1: hotplug", "nics.net0.bootOrder: live"]);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, vm!.outs, inputs) };
    assert.deepEqual(await bootOrder(client, ref), ["DiskDevice disk:1", "EthernetDevice net0", "DiskDevice disk:0"]);
    assert.equal(await powerOffEvents(client, ref), offBefore, "no power-off");
    assert.equal(vm.outs.lastChangeClass, "hotplug");
  });

  it("an order changed in vCenter is drift, reported as positions; removing every bootOrder clears vCenter's", async () => {
    const ref = new MoRef("VirtualMachine", vm!.id);
    // Out of band: only the first disk.
    const keys = (await getProperties(client, ref, ["config.hardware.device"])).props.get("config.hardware.device")?.children ?? [];
    const disk0 = keys.find((d) => xsiType(d) === "VirtualDisk" && num(d, "unitNumber") === 0)!;
    const task = await client.invoke("ReconfigVM_Task", ref, {
      spec: { bootOptions: { bootOrder: [{ $type: "VirtualMachineBootOptionsBootableDiskDevice", deviceKey: num(disk0, "key")! }] } },
    });
    assert.ok(task);
    for (let i = 0; i < 50 && (await bootOrder(client, ref)).length !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    const read = await host.read("VirtualMachine", vm!.id, vm!.outs);
    const disks = read.inputs.disks as Record<string, Props>;
    const nics = read.inputs.nics as Record<string, Props>;
    assert.deepEqual([disks.scsi0!.bootOrder, disks.scsi1!.bootOrder, nics.net0!.bootOrder], [1, undefined, undefined]);

    const old = specOf(vm!.outs);
    const strip = (items: unknown) => Object.fromEntries(Object.entries(items as Record<string, Props>).map(([k, { bootOrder: _, ...rest }]) => [k, rest]));
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, disks: strip(old.disks), nics: strip(old.nics) });
    assert.deepEqual(failures, []);
    vm = { id: vm!.id, outs: await host.update("VirtualMachine", vm!.id, read.props, inputs) };
    assert.deepEqual(await bootOrder(client, ref), []);
    const after = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((await host.diff("VirtualMachine", vm.id, after.props, inputs)).changes, false);
  });
});
