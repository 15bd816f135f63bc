import assert from "node:assert/strict";
import {
  child,
  children,
  closeAllSessions,
  connect,
  getProperties,
  lookup,
  ManagedObjectNotFoundError,
  MoRef,
  num,
  runTask,
  xsiType,
  type VimClient,
} from "../../../provider/drivers/vsphere/soap";
import { ProviderHost } from "../../support/provider-host";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";
import { specOf } from "./helpers";

type Props = Record<string, unknown>;

/**
 * Issue 9 on vSphere: devices an administrator adds in vCenter (an e1000 NIC, a CD-ROM on an IDE
 * controller, a disk on a SATA controller) must refresh into state the model accepts, survive an
 * update untouched, and never stop destroy.
 */
describe("vSphere: a VM changed in vCenter stays refreshable, updatable and destroyable (vcsim)", function () {
  this.timeout(300_000);
  let host: ProviderHost;
  let client: VimClient;
  let vm: { id: string; outs: Props };
  const name = uniqueName("nc-refresh-oob");

  before(async function () {
    this.timeout(300_000);
    const sim = vcsim();
    host = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({
        vc1: {
          driver: "vsphere",
          url: sim.url,
          username: sim.username,
          password: sim.password,
          datacenter: DATACENTER,
          cluster: "DC0_C0",
          caFile: sim.caFile,
          datastore: "LocalDS_0",
          host: "DC0_C0_H0",
        },
      }),
    });
    client = await connect(sim.options);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch(() => undefined);
    await host?.stop();
    await closeAllSessions();
  });

  /** Device types of the VM as vCenter reports them. */
  async function devices() {
    const config = (await getProperties(client, new MoRef("VirtualMachine", vm.id), ["config"])).props.get("config");
    return children(child(config, "hardware"), "device");
  }
  async function deviceTypes(): Promise<string[]> {
    return (await devices()).map((d) => xsiType(d) ?? "").sort();
  }

  it("creates a VM through the provider host", async () => {
    const checked = await host.check(
      "VirtualMachine",
      {},
      {
        host: "vc1",
        name,
        memory: { sizeMiB: 512 },
        disks: { vda: { pool: "LocalDS_0", sizeGiB: 1 } },
        nics: { net0: { network: "VM Network" } },
        powerState: "stopped",
      },
    );
    assert.deepEqual(checked.failures, []);
    vm = await host.create("VirtualMachine", checked.inputs);
    assert.ok(vm.id);
  });

  it("an administrator adds an e1000 NIC, an IDE CD-ROM and a SATA disk in vCenter; refresh records them in valid state", async () => {
    const ref = new MoRef("VirtualMachine", vm.id);
    const network = await lookup(client, "network", "VM Network", DATACENTER);
    const ide = (await devices()).find((d) => xsiType(d) === "VirtualIDEController");
    const ideKey = ide ? num(ide, "key")! : -10;
    await runTask(client, "ReconfigVM_Task", ref, {
      spec: {
        deviceChange: [
          { operation: "add", device: { $type: "VirtualE1000", key: -1, backing: { $type: "VirtualEthernetCardNetworkBackingInfo", deviceName: "VM Network", network } } },
          ...(ide ? [] : [{ operation: "add", device: { $type: "VirtualIDEController", key: ideKey, busNumber: 0 } }]),
          {
            operation: "add",
            device: {
              $type: "VirtualCdrom",
              key: -2,
              controllerKey: ideKey,
              unitNumber: 0,
              backing: { $type: "VirtualCdromRemotePassthroughBackingInfo", deviceName: "", exclusive: false },
            },
          },
          { operation: "add", device: { $type: "VirtualAHCIController", key: -3, busNumber: 0 } },
          {
            operation: "add",
            fileOperation: "create",
            device: {
              $type: "VirtualDisk",
              key: -4,
              controllerKey: -3,
              unitNumber: 0,
              capacityInKB: 1024,
              backing: { $type: "VirtualDiskFlatVer2BackingInfo", fileName: "[LocalDS_0]", diskMode: "persistent", thinProvisioned: true },
            },
          },
        ],
      },
    });
    const types = await deviceTypes();
    for (const t of ["VirtualE1000", "VirtualCdrom", "VirtualAHCIController"]) assert.ok(types.includes(t), `${t} in ${types.join(",")}`);
    const stderrBefore = host.stderr.length;
    const refreshed = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.doesNotMatch(host.stderr.slice(stderrBefore).join(""), /warning/, "nothing had to be left out of state");
    const nics = refreshed.inputs.nics as Record<string, Props>;
    assert.deepEqual(
      Object.values(nics)
        .map((n) => n.model)
        .sort(),
      ["e1000", "virtio"],
    );
    assert.equal(Object.keys(refreshed.inputs.disks as object).length, 2, "the SATA disk is recorded");
    // The refreshed state is accepted as old inputs by the next check, and a program taking the changes plans none.
    const adopted = await host.check("VirtualMachine", refreshed.inputs, specOf(refreshed.inputs));
    assert.deepEqual(adopted.failures, []);
    assert.equal((await host.diff("VirtualMachine", vm.id, refreshed.props, adopted.inputs)).changes, false);
    assert.ok(
      (refreshed.props.unmanaged as string[]).some((d) => /\(VirtualCdrom\)$/.test(d)),
      `the CD-ROM is listed as unmanaged: ${JSON.stringify(refreshed.props.unmanaged)}`,
    );
    vm = { id: vm.id, outs: refreshed.props };
  });

  it("an update keeps every device added in vCenter, and the next plan is empty", async () => {
    const before = await deviceTypes();
    const next = { ...specOf(vm.outs), labels: { team: "ops" } };
    const checked = await host.check("VirtualMachine", vm.outs, next);
    assert.deepEqual(checked.failures, []);
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs);
    assert.deepEqual(await deviceTypes(), before);
    const after = await host.read("VirtualMachine", vm.id, outs);
    assert.equal((await host.diff("VirtualMachine", vm.id, after.props, checked.inputs)).changes, false);
    vm = { id: vm.id, outs: after.props };
  });

  it("delete of that state (and of one whose recorded NIC model this version refuses) destroys the VM", async () => {
    const nics = vm.outs.nics as Record<string, Props>;
    const broken = { ...vm.outs, nics: Object.fromEntries(Object.entries(nics).map(([slot, n]) => [slot, { ...n, model: "ne2000-from-the-future" }])) };
    await host.delete("VirtualMachine", vm.id, broken);
    await assert.rejects(getProperties(client, new MoRef("VirtualMachine", vm.id), ["name"]), ManagedObjectNotFoundError);
    vm = undefined as unknown as typeof vm;
  });
});
