import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveApiError } from "../../../provider/drivers/proxmox/api/errors";
import { ProviderHost } from "../../support/provider-host";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

/** Storage definitions on Proxmox VE through the provider host, read back from fakepve's storage.cfg. */
describe("Proxmox VE storage pools through the provider host (fakepve)", function () {
  this.timeout(60_000);
  const pve = fakepve();
  const name = uniqueName("st");
  let host: ProviderHost;
  let api: PveClient;
  let pool: { id: string; outs: Props } | undefined;
  let vm: { id: string; outs: Props } | undefined;

  const storage = (id: string) => api.get<Record<string, string>>(`/storage/${id}`);

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
  });

  after(async () => {
    if (vm) await host.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup: ${e}`));
    if (pool) await host.delete("StoragePool", pool.id, pool.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses ids, kinds and settings PVE storage cannot take", async () => {
    const { failures } = await host.check("StoragePool", {}, { host: "pve", name: "1st", kind: "rbd", source: "rbd", autostart: false, labels: { a: "b" } });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["name", "kind", "autostart", "labels"],
    );
    assert.match(failures[0].reason, /got "1st"; a Proxmox VE storage id is letters, digits/);
  });

  it("defines a directory storage for VM disks; it is active, and read shows no difference", async () => {
    pool = await host.checkAndCreate("StoragePool", { host: "pve", name, kind: "dir", path: `/srv/${name}` });
    assert.equal(pool.id, name);
    const cfg = await storage(name);
    assert.deepEqual([cfg.type, cfg.path, cfg.content], ["dir", `/srv/${name}`, "images,rootdir"]);
    assert.equal(pool.outs.state, "active");
    assert.ok(Number(pool.outs.capacityBytes) > 0);
    const read = await host.read("StoragePool", pool.id, pool.outs);
    const again = (await host.check("StoragePool", {}, { host: "pve", name, kind: "dir", path: `/srv/${name}` })).inputs;
    assert.equal((await host.diff("StoragePool", pool.id, read.props, again)).changes, false, JSON.stringify(read.inputs));
  });

  it("a VM's disk is allocated on it", async () => {
    vm = await host.checkAndCreate("VirtualMachine", {
      host: "pve",
      name: uniqueName("st-vm"),
      memory: { sizeMiB: 256 },
      disks: { scsi0: { pool: name, sizeGiB: 1 } },
      powerState: "stopped",
    });
    const cfg = await api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${vm.id}/config`);
    assert.match(cfg.scsi0, new RegExp(`^${name}:${vm.id}/vm-${vm.id}-disk-0\\.raw,size=1G$`));
    await host.delete("VirtualMachine", vm.id, vm.outs);
    vm = undefined;
  });

  it("an existing storage is not taken without adopt; adopted, it is left in place on destroy", async () => {
    const inputs = (await host.check("StoragePool", {}, { host: "pve", name, kind: "dir", path: `/srv/${name}` })).inputs;
    await assert.rejects(host.create("StoragePool", inputs), /already exists on host "pve" and is not managed by NovaCron/);
    const adopted = await host.checkAndCreate("StoragePool", { host: "pve", name, kind: "dir", path: `/srv/${name}`, adopt: true });
    await host.delete("StoragePool", adopted.id, adopted.outs);
    assert.equal((await storage(name)).type, "dir", "still defined");
  });

  it("destroy removes the definition; a second destroy is 'already gone'", async () => {
    await host.delete("StoragePool", pool!.id, pool!.outs);
    await assert.rejects(storage(name), (e: unknown) => e instanceof PveApiError && /does not exist/.test(e.reason));
    await host.delete("StoragePool", pool!.id, pool!.outs);
    pool = undefined;
  });
});
