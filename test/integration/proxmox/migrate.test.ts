import assert from "node:assert/strict";
import { classifyChange } from "../../../provider/core/classify";
import type { OperationContext } from "../../../provider/core/driver";
import type { HostConfig } from "../../../provider/core/hosts";
import { VirtualMachineInputs } from "../../../provider/core/model";
import type { PveClient, PveRequest } from "../../../provider/drivers/proxmox/api/client";
import { PROXMOX_CAPABILITIES } from "../../../provider/drivers/proxmox/capabilities";
import { ProxmoxDriver } from "../../../provider/drivers/proxmox/driver";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { PveSchema } from "./contract";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

/**
 * A node change is a migration and a storage change a disk move, both updates of the same VM.
 * fakepve 0.5.0 has one node and implements neither call: `migrate` and `move_disk` answer a
 * task that ends OK and change nothing. What the server shows is asserted (the same VM, the
 * calls PVE's schema accepted, its precheck's answer used); where it cannot show the effect
 * (the VM's node, the disk's storage afterwards), the test says so and checks the calls made.
 */
describe("Proxmox VE node and storage moves (fakepve)", function () {
  this.timeout(60_000);
  const pve = fakepve();
  let api: PveClient;
  let watched: PveClient;
  const sent: PveRequest[] = [];
  let id: string | undefined;
  const spec = VirtualMachineInputs.parse({
    host: "pve",
    name: uniqueName("mig"),
    memory: { sizeMiB: 128 },
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
    nics: { net0: { bridge: "vmbr0" } },
    powerState: "running",
    updatePolicy: { shutdownTimeoutSeconds: 2 },
  });
  const lines: string[] = [];
  const context = (): OperationContext => ({
    progress: (m) => lines.push(m),
    deadline: Date.now() + 20_000,
    // The second host entry names node pve2 of the same cluster. openProxmoxDriver would refuse it
    // (fakepve lists only pve1), so the driver for it is made directly.
    connect: async (host) => new ProxmoxDriver(host, { ...hostEntry(pve), node: "pve2" } as HostConfig, watched, "pve2"),
  });

  before(async () => {
    api = clientFor(pve);
    watched = clientFor(pve, { onRequest: (r) => sent.push(r) });
    id = (await new ProxmoxVmResource(api, pve.node).create(spec, context())).id;
  });
  after(async () => {
    if (id) await new ProxmoxVmResource(api, pve.node).delete(id, spec, context()).catch((e) => console.error(`cleanup: ${e}`));
    await watched?.close();
    await api?.close();
  });

  it("preview classifies the node change as a migration and the storage change as live, never a replace", () => {
    const moved = classifyChange("VirtualMachine", spec, { ...spec, host: "pve2" }, PROXMOX_CAPABILITIES);
    assert.equal(moved.worst, "migrate");
    assert.deepEqual(moved.replaces, []);
    const stored = classifyChange("VirtualMachine", spec, { ...spec, disks: { scsi0: { ...spec.disks.scsi0, pool: "local" } } }, PROXMOX_CAPABILITIES);
    assert.equal(stored.worst, "live");
    assert.deepEqual(stored.replaces, []);
  });

  it("a running VM with a local disk migrates online with its local disks, and stays the same VM", async () => {
    const before = await api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${id}/config`);
    const from = sent.length;
    const next = { ...spec, host: "pve2" };
    const observed = await new ProxmoxVmResource(watched, pve.node).update(id!, spec, next, classifyChange("VirtualMachine", spec, next, PROXMOX_CAPABILITIES), context());
    const calls = sent.slice(from);
    const precheck = calls.find((r) => r.method === "GET" && r.path.endsWith(`/${id}/migrate`));
    assert.deepEqual(precheck?.params, { target: "pve2" });
    const migrate = calls.find((r) => r.method === "POST" && r.path.endsWith(`/${id}/migrate`));
    // fakepve's precheck lists a local disk, so it is copied along; the VM runs, so online.
    assert.deepEqual(migrate?.params, { target: "pve2", online: "1", "with-local-disks": "1" });
    assert.equal(calls.filter((r) => r.method === "DELETE" || (r.method === "POST" && r.path.endsWith("/qemu"))).length, 0, "nothing destroyed or created");
    assert.equal(observed.id, id);
    const after = await api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${id}/config`);
    assert.equal(after.smbios1, before.smbios1, "the same VM (its SMBIOS uuid)");
    assert.equal((await api.get<{ status: string }>(`/nodes/${pve.node}/qemu/${id}/status/current`)).status, "running");
    // fakepve leaves the VM on pve1 after the task: the driver follows the cluster's listing.
    assert.match(lines.join("\n"), new RegExp(`migrating VM ${id} from node pve1 to pve2 online with 1 local disk`));
    assert.match(lines.join("\n"), /reports the migration of VM \d+ done but lists it on node pve1; the update follows it there/);
  });

  it("a disk's storage change moves it (move_disk, old copy deleted) instead of making a new blank disk", async () => {
    const next = { ...spec, disks: { scsi0: { ...spec.disks.scsi0, pool: "local" } } };
    const from = sent.length;
    const plan = classifyChange("VirtualMachine", spec, next, PROXMOX_CAPABILITIES);
    await new ProxmoxVmResource(watched, pve.node).update(id!, spec, next, plan, context());
    const calls = sent.slice(from);
    assert.deepEqual(calls.find((r) => r.path.endsWith(`/${id}/move_disk`))?.params, { disk: "scsi0", storage: "local", delete: "1" });
    assert.equal(calls.find((r) => r.method === "PUT" && r.path.endsWith("/config"))?.params.scsi0, undefined, "no new disk written into scsi0");
    // fakepve's move_disk changes nothing, so the volume still reads local-lvm here; on PVE it is local:….
    assert.match((await api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${id}/config`)).scsi0, /^local-lvm:vm-\d+-disk-0/);
    assert.match(lines.join("\n"), /moving disk scsi0 of VM \d+ to storage local/);
  });
  it("every request the driver sent here is valid against PVE's published API schema (migrate precheck, migrate and move_disk)", function () {
    if (!PveSchema.available()) this.skip();
    const schema = PveSchema.load();
    assert.ok(sent.length > 0);
    assert.deepEqual(
      sent.flatMap((r) => schema.problems(r)),
      [],
    );
  });
});
