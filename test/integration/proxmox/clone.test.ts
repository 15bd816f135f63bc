import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { checkCapabilities } from "../../../provider/core/capability-check";
import { classifyChange } from "../../../provider/core/classify";
import { VirtualMachineInputs } from "../../../provider/core/model";
import type { PveClient, PveRequest } from "../../../provider/drivers/proxmox/api/client";
import { waitForTask } from "../../../provider/drivers/proxmox/api/tasks";
import { PROXMOX_CAPABILITIES } from "../../../provider/drivers/proxmox/capabilities";
import { VSPHERE_CAPABILITIES } from "../../../provider/drivers/vsphere/capabilities";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { PveSchema } from "./contract";
import { clientFor, fakepve, uniqueName } from "./testbed";

type Config = Record<string, string | number>;

function context(seconds: number): OperationContext & { lines: string[] } {
  const lines: string[] = [];
  return { lines, progress: (m) => lines.push(m), deadline: Date.now() + seconds * 1000, connect: () => Promise.reject(new Error("no other hosts here")) };
}

/**
 * VMs cloned from a template on fakepve, which implements clone and template: linked clones get a
 * volume on the template's base image, full clones a copy on the chosen storage, and the clone
 * carries the template's config until the driver writes the spec over it. Read back through PVE's API.
 */
describe("Proxmox VE clones from a template (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  const templateName = uniqueName("tmpl");
  let api: PveClient;
  let templateId = 0;
  const sent: PveRequest[] = [];
  let vms: ProxmoxVmResource;
  const made: { id: string; spec: ReturnType<typeof VirtualMachineInputs.parse> }[] = [];

  const config = (id: string | number): Promise<Config> => api.get(`/nodes/${pve.node}/qemu/${id}/config`);
  const spec = (extra: Record<string, unknown>) =>
    VirtualMachineInputs.parse({
      host: "pve",
      name: uniqueName("clone"),
      cpu: { cores: 2 },
      memory: { sizeMiB: 256 },
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 2 } },
      nics: { net0: { bridge: "vmbr0", vlan: 20 } },
      labels: { role: "web" },
      updatePolicy: { shutdownTimeoutSeconds: 3 },
      ...extra,
    });

  before(async () => {
    api = clientFor(pve);
    // A template as an image pipeline leaves it: one 1 GiB disk, one NIC, a description of its own.
    templateId = Number(await api.get<string>("/cluster/nextid"));
    const upid = await api.post<string>(`/nodes/${pve.node}/qemu`, {
      vmid: templateId,
      name: templateName,
      cores: 1,
      memory: 512,
      scsihw: "virtio-scsi-single",
      scsi0: "local-lvm:1",
      scsi1: "local-lvm:1",
      net0: "virtio,bridge=vmbr0",
      description: "golden image",
    });
    await waitForTask(api, upid, context(10));
    await waitForTask(api, await api.post<string>(`/nodes/${pve.node}/qemu/${templateId}/template`), context(10));
    const watched = clientFor(pve, { onRequest: (r) => sent.push(r) });
    vms = new ProxmoxVmResource(watched, pve.node);
  });

  after(async () => {
    for (const m of made) await vms.delete(m.id, m.spec, context(20)).catch((e) => console.error(`cleanup ${m.id}: ${e}`));
    if (templateId) await api.delete(`/nodes/${pve.node}/qemu/${templateId}`, { purge: 1 }).catch(() => undefined);
    await vms?.client.close();
    await api?.close();
  });

  it("a linked clone shares the template's base image; the spec is written over it, its disk grown and it runs", async () => {
    const s = spec({ cloneFrom: { template: templateName, linked: true }, powerState: "running" });
    const ctx = context(30);
    const vm = await vms.create(s, ctx);
    made.push({ id: vm.id, spec: s });
    const cfg = await config(vm.id);
    const tmpl = await config(templateId);
    // The template's disk became a base volume; the clone got a volume of its own. (A real PVE
    // names a thin child on LVM-thin `base-T-disk-0/vm-N-disk-0`; fakepve shows the parent only on
    // file storages, so linked vs full is asserted through the clone call below.)
    assert.match(String(tmpl.scsi0), new RegExp(`^local-lvm:base-${templateId}-disk-0`));
    assert.match(String(cfg.scsi0), new RegExp(`^local-lvm:(base-${templateId}-disk-0/)?vm-${vm.id}-disk-0`));
    assert.equal(cfg.name, s.name);
    assert.equal(Number(cfg.cores), 2);
    assert.equal(String(cfg.memory), "256");
    assert.match(String(cfg.net0), /bridge=vmbr0/);
    assert.match(String(cfg.net0), /tag=20/);
    assert.match(String(cfg.tags), /novacron/);
    assert.match(String(cfg.description), /novacron-labels: \{"role":"web"\}/);
    assert.equal(cfg.template, undefined, "the clone is a VM, not a template");
    assert.equal((await api.get<{ status: string }>(`/nodes/${pve.node}/qemu/${vm.id}/status/current`)).status, "running");
    // PVE gave the clone its own MAC (the template's is not reused).
    assert.notEqual(/=([0-9A-F:]{17})/i.exec(String(cfg.net0))?.[1], /=([0-9A-F:]{17})/i.exec(String(tmpl.net0))?.[1]);
    // Disk grow: fakepve's …/resize answers OK and changes nothing (size stays 1G), so what
    // can be checked is that the driver asked PVE for it, after the clone and the config write.
    const calls = sent.filter((r) => r.path.includes(`/${vm.id}/`) || r.path.endsWith(`/${templateId}/clone`)).map((r) => `${r.method} ${r.path.replace(/^.*\/qemu\//, "")}`);
    const clone = calls.indexOf(`POST ${templateId}/clone`);
    const write = calls.indexOf(`PUT ${vm.id}/config`);
    const resize = calls.indexOf(`PUT ${vm.id}/resize`);
    assert.ok(clone >= 0 && clone < write && write < resize, calls.join("\n"));
    assert.deepEqual(sent.find((r) => r.path.endsWith(`/${vm.id}/resize`))?.params, { disk: "scsi0", size: "2G" });
    assert.equal(sent.find((r) => r.path.endsWith(`/${templateId}/clone`))?.params.full, "0");
    assert.equal(sent.find((r) => r.path.endsWith(`/${templateId}/clone`))?.params.storage, undefined);
    assert.match(ctx.lines.join("\n"), /cloning template .* as a linked clone/);
    // Refresh reads it as this spec (the size aside, which fakepve does not change).
    const read = await vms.read(vm.id, s);
    assert.equal(read?.spec.cpu.cores, 2);
    assert.deepEqual(read?.spec.cloneFrom, { template: templateName, linked: true });
  });

  it("a data disk of the template the spec does not name is left alone: not recorded, not dropped by the next update", async () => {
    const s = spec({ cloneFrom: { template: templateName, linked: true }, powerState: "stopped" });
    const vm = await vms.create(s, context(30));
    made.push({ id: vm.id, spec: s });
    assert.ok((await config(vm.id)).scsi1, "the clone carries the template's second disk");
    assert.deepEqual(Object.keys(vm.spec.disks), ["scsi0"], "create records only the spec's disks");
    const read = await vms.read(vm.id, s);
    assert.deepEqual(Object.keys(read?.spec.disks ?? {}), ["scsi0"], "refresh records only the spec's disks");
    const next = { ...s, labels: { role: "api" } };
    await vms.update(vm.id, read!.spec, next, classifyChange("VirtualMachine", read!.spec, next, PROXMOX_CAPABILITIES), context(30));
    assert.ok((await config(vm.id)).scsi1, "the update left the template's disk attached");
  });

  it("a full clone by template id copies the disk to the chosen storage", async () => {
    const s = spec({ cloneFrom: { template: String(templateId), storage: "local-lvm" }, powerState: "stopped" });
    const vm = await vms.create(s, context(30));
    made.push({ id: vm.id, spec: s });
    const cfg = await config(vm.id);
    assert.match(String(cfg.scsi0), new RegExp(`^local-lvm:vm-${vm.id}-disk-0(,|$)`), "a copy of its own, not a child of the base image");
    const call = sent.filter((r) => r.path.endsWith(`/${templateId}/clone`)).at(-1);
    assert.equal(call?.params.full, "1");
    assert.equal(call?.params.storage, "local-lvm");
    const content = await api.get<{ volid: string }[]>(`/nodes/${pve.node}/storage/local-lvm/content`);
    assert.ok(
      content.some((v) => v.volid === `local-lvm:vm-${vm.id}-disk-0`),
      "the storage holds the copy",
    );
    assert.equal((await api.get<{ status: string }>(`/nodes/${pve.node}/qemu/${vm.id}/status/current`)).status, "stopped");
  });

  it("parallel clones of one template queue per template and storage: none fails on the template's lock", async () => {
    const specs = [0, 1, 2, 3, 4].map(() => spec({ cloneFrom: { template: templateName, linked: true }, powerState: "stopped" }));
    const from = sent.length;
    const settled = await Promise.allSettled(specs.map((s) => vms.create(s, context(60))));
    settled.forEach((r, i) => {
      if (r.status === "fulfilled") made.push({ id: r.value.id, spec: specs[i] });
    });
    assert.deepEqual(
      settled.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
    const ids = settled.map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    // One clone at a time: each clone's task is waited for before the next clone call is sent.
    const order = sent
      .slice(from)
      .filter((r) => r.path.endsWith("/clone") || /qmclone.*\/status$/.test(r.path))
      .map((r) => (r.method === "POST" ? "clone" : "wait"));
    assert.equal(order.filter((o) => o === "clone").length, 5);
    assert.ok(!order.join(" ").includes("clone clone"), order.join(" "));
    assert.equal(new Set(ids).size, 5);
    const listed = await api.get<{ vmid: number; name: string }[]>(`/nodes/${pve.node}/qemu`);
    for (const [i, id] of ids.entries()) assert.equal(listed.find((v) => String(v.vmid) === id)?.name, specs[i].name);
  });

  it("a template that does not exist, or a VM that is not a template, is named in the error", async () => {
    await assert.rejects(
      vms.create(spec({ cloneFrom: { template: "no-such-template" } }), context(10)),
      /cloneFrom.template: Proxmox VE has no template "no-such-template"; its templates are .*\(\d+\)/,
    );
    await assert.rejects(vms.create(spec({ cloneFrom: { template: "9001" } }), context(10)), /cloneFrom.template: VM 9001 \(nc-fixture-locked\) is not a template/);
  });

  it("check refuses a linked clone onto another storage, and a driver without template clones", () => {
    assert.throws(
      () => VirtualMachineInputs.parse({ host: "pve", name: "x", memory: { sizeMiB: 64 }, cloneFrom: { template: "t", linked: true, storage: "local-lvm" } }),
      /a linked clone stays on the template's storage/,
    );
    const cloned = VirtualMachineInputs.parse({ host: "pve", name: "x", memory: { sizeMiB: 64 }, cloneFrom: { template: "t" } });
    assert.deepEqual(checkCapabilities("VirtualMachine", cloned, PROXMOX_CAPABILITIES), []);
    assert.deepEqual(
      checkCapabilities("VirtualMachine", cloned, VSPHERE_CAPABILITIES).map((f) => `${f.property}: ${f.reason}`),
      ["cloneFrom: NovaCron's VMware vSphere driver cannot create a VM from a template"],
    );
  });
  it("every request the driver sent here is valid against PVE's published API schema (clone, config write, resize and power calls)", function () {
    if (!PveSchema.available()) this.skip();
    const schema = PveSchema.load();
    assert.ok(sent.length > 0);
    assert.deepEqual(
      sent.flatMap((r) => schema.problems(r)),
      [],
    );
  });
});
