import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { SnapshotInputs, StoragePoolInputs, VirtualMachineInputs, type VirtualMachineArgs } from "../../../provider/core/model";
import { PveClient, type PveRequest } from "../../../provider/drivers/proxmox/api/client";
import { ProxmoxSnapshotResource } from "../../../provider/drivers/proxmox/resources/snapshot";
import { ProxmoxStorageResource } from "../../../provider/drivers/proxmox/resources/storage";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { Guest } from "../../../provider/drivers/proxmox/vm/power";
import { createParams, vmProblems } from "../../../provider/drivers/proxmox/vm/translate";
import { PveSchema, SCHEMA_FILE } from "./contract";
import { fakepve, uniqueName } from "./testbed";

const NODE = "pve1";
const ctx = (): OperationContext => ({ progress: () => undefined, deadline: Date.now() + 30_000, connect: () => Promise.reject(new Error("none")) });

/** VMs exercising every field the driver translates. */
const SPECS: VirtualMachineArgs[] = [
  { host: "pve", name: "plain", memory: { sizeMiB: 512 } },
  {
    host: "pve",
    name: "every-field",
    machine: "q35",
    cpu: { sockets: 2, cores: 4, mode: "custom", model: "Skylake-Server" },
    memory: { sizeMiB: 4096, balloon: { minMiB: 1024 } },
    disks: {
      scsi0: { pool: "local-lvm", sizeGiB: 32, cache: "writeback", io: "io_uring", iothread: 1, bootOrder: 1 },
      vdb: { pool: "local-lvm", sizeGiB: 8, format: "raw", readOnly: true },
      sata0: { volume: "local-lvm:vm-100-disk-9" },
    },
    nics: { net0: { bridge: "vmbr0", vlan: 42, queues: 4, mac: "52:54:00:12:34:56", bootOrder: 2 }, net1: { network: "vnet1", model: "e1000e" } },
    firmware: { type: "uefi", secureBoot: true, tpm: true },
    console: { kind: "spice" },
    labels: { team: "infra", "cost/center": "42" },
  },
  { host: "pve", name: "host-cpu", cpu: { mode: "host-passthrough" }, memory: { sizeMiB: 1024 }, nics: { net0: { bridge: "vmbr1", model: "vmxnet3" } } },
];

describe("Proxmox VE contract: every request NovaCron sends is valid per PVE's API schema", function () {
  this.timeout(60_000);
  let schema: PveSchema;

  before(function () {
    if (!PveSchema.available()) {
      console.warn(`    (skipped: the PVE API schema is not at ${SCHEMA_FILE})`);
      this.skip();
    }
    schema = PveSchema.load();
  });

  it("the checker itself refuses what PVE refuses (so a pass means something)", () => {
    const post = (params: Record<string, string>, path = `/nodes/${NODE}/qemu`): PveRequest => ({ method: "POST", path, params });
    assert.deepEqual(schema.problems(post({ vmid: "100", name: "ok", net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=5" })), []);
    assert.match(schema.problems(post({ vmid: "100", bogus: "1" }))[0], /parameter "bogus" is not declared/);
    assert.match(schema.problems(post({ vmid: "100", net0: "virtio,bridge=vmbr0,speed=9" })).join(), /unknown key "speed"/);
    assert.match(schema.problems(post({ vmid: "100", net0: "model=virtio,tag=5000" })).join(), /tag: above the maximum 4094/);
    assert.match(schema.problems(post({ vmid: "100", scsi0: "local-lvm:4,cache=fast" })).join(), /cache: not one of none/);
    assert.match(schema.problems(post({ vmid: "100", bios: "uefi" })).join(), /not one of seabios, ovmf/);
    assert.match(schema.problems(post({ vmid: "99" })).join(), /below the minimum 100/);
    assert.match(schema.problems(post({})).join(), /required parameter "vmid" is missing/);
    assert.match(schema.problems(post({ vmid: "100", sshkeys: "ssh-ed25519 AAAA key" })).join(), /urlencoded: not percent-encoded/);
    assert.match(schema.problems(post({ vmid: "100", ipconfig0: "ip=10.0.0.5,gw=10.0.0.1" })).join(), /ip=10\.0\.0\.5 is not accepted/);
    assert.match(schema.problems(post({ vmid: "100", ipconfig0: "ip=dhcp,gateway=10.0.0.1" })).join(), /unknown key "gateway"/);
    assert.match(schema.problems({ method: "PATCH" as never, path: `/nodes/${NODE}/qemu`, params: {} }).join(), /has no PATCH/);
    assert.match(schema.problems({ method: "GET", path: "/nodes/pve1/qemu/100/nosuch", params: {} }).join(), /no such path/);
    assert.match(schema.problems({ method: "PUT", path: "/access/password", params: { userid: "a@pam", password: "x" } }).join(), /API tokens are not allowed/);
  });

  it("create parameters of every translated field are valid", () => {
    for (const args of SPECS) {
      const spec = VirtualMachineInputs.parse(args);
      assert.deepEqual(vmProblems(spec), [], args.name);
      const params = Object.fromEntries(Object.entries(createParams(spec).params).map(([k, v]) => [k, String(v)]));
      assert.deepEqual(schema.problems({ method: "POST", path: `/nodes/${NODE}/qemu`, params: { vmid: "100", ...params } }), [], args.name);
    }
  });

  it("a whole lifecycle against fakepve sends only valid requests: VM create, read, snapshot, update, power, delete; storage definitions", async () => {
    const pve = fakepve();
    const sent: PveRequest[] = [];
    const client = new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile, onRequest: (r) => sent.push(r) });
    const vms = new ProxmoxVmResource(client, pve.node);
    const name = uniqueName("contract");
    const spec = VirtualMachineInputs.parse({
      ...SPECS[1],
      name,
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 4, iothread: 1, cache: "writeback" } },
      powerState: "running",
      updatePolicy: { shutdownTimeoutSeconds: 2, allowReboot: true },
    });
    let id: string | undefined;
    try {
      id = (await vms.create(spec, ctx())).id;
      assert.ok(await vms.find(spec));
      // A task that fails (the VM already runs) makes the waiter read the task log.
      await assert.rejects(new Guest(client, pve.node, Number(id)).action("start", ctx()), /already running/);
      const snaps = new ProxmoxSnapshotResource(client, pve.node);
      const snap = SnapshotInputs.parse({ host: "pve", vm: id, name: "s1", memory: true, description: "first" });
      const taken = await snaps.create(snap, ctx());
      await snaps.update(taken.id, snap, { ...snap, description: "second" }, { changes: [], worst: "live", replaces: [] }, ctx());
      await snaps.delete(taken.id, snap, ctx());
      const read = (await vms.read(id, spec))!;
      const next = VirtualMachineInputs.parse({
        ...spec,
        cpu: { sockets: 1, cores: 2 },
        memory: { sizeMiB: 2048 },
        disks: { scsi0: { pool: "local-lvm", sizeGiB: 6, iothread: 1 }, vdb: { pool: "local-lvm", sizeGiB: 1 } },
        nics: { net0: { bridge: "vmbr0", vlan: 43 } },
        firmware: { type: "uefi", secureBoot: true, tpm: false },
        console: { kind: "none" },
        labels: { team: "ops" },
      });
      const plan = { changes: [], worst: "reboot" as const, replaces: [] };
      await vms.update(id, read.spec, next, plan, ctx());
      await vms.update(id, next, { ...next, powerState: "paused" }, plan, ctx());
      await vms.update(id, next, { ...next, powerState: "running" }, plan, ctx());
      await vms.update(id, next, { ...next, powerState: "stopped" }, plan, ctx());
      await new Guest(client, pve.node, Number(id)).action("start", ctx());
      await vms.delete(id, next, ctx());
      id = undefined;
      await vms.delete(String((await vms.create({ ...spec, name: `${name}-b`, powerState: "stopped" }, ctx())).id), spec, ctx());
    } finally {
      if (id) await vms.delete(id, spec, ctx()).catch(() => undefined);
      await client.close();
    }
    // Storage definitions: a directory and an NFS export, defined, read and removed.
    const storages = new ProxmoxStorageResource(
      new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile, onRequest: (r) => sent.push(r) }),
      pve.node,
    );
    for (const args of [
      { kind: "dir", path: `/srv/${name}` },
      { kind: "netfs", source: "192.0.2.7:/export/vms", path: `/mnt/pve/${name}-netfs` },
    ]) {
      const spec = StoragePoolInputs.parse({ host: "pve", name: `${name}-${args.kind}`, ...args });
      const made = await storages.create(spec, ctx());
      await storages.read(made.id, spec);
      await storages.delete(made.id, spec, ctx());
    }
    await storages.client.close();
    const problems = sent.flatMap((r) => schema.problems(r, { token: r.path !== "/access/ticket" }));
    assert.deepEqual(problems, []);
    const endpoints = new Set(sent.map((r) => `${r.method} ${r.path.replace(/\/\d+(\/|$)/, "/{vmid}$1").replace(/UPID:[^/]+/, "{upid}")}`));
    for (const must of [
      "POST /nodes/pve1/qemu",
      "PUT /nodes/pve1/qemu/{vmid}/config",
      "PUT /nodes/pve1/qemu/{vmid}/resize",
      "POST /nodes/pve1/qemu/{vmid}/status/reboot",
      "POST /nodes/pve1/qemu/{vmid}/status/suspend",
      "POST /nodes/pve1/qemu/{vmid}/status/resume",
      "POST /nodes/pve1/qemu/{vmid}/status/shutdown",
      "DELETE /nodes/pve1/qemu/{vmid}",
      "GET /nodes/pve1/tasks/{upid}/log",
      "POST /nodes/pve1/qemu/{vmid}/snapshot",
      "PUT /nodes/pve1/qemu/{vmid}/snapshot/s1/config",
      "DELETE /nodes/pve1/qemu/{vmid}/snapshot/s1",
      "POST /storage",
    ]) {
      assert.ok(endpoints.has(must), `the lifecycle never sent ${must}: ${[...endpoints].join(", ")}`);
    }
  });
});
