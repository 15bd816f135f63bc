import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { PartialCreateError } from "../../../provider/core/errors";
import { VirtualMachineInputs } from "../../../provider/core/model";
import { type Method, type Params, PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveTransportError } from "../../../provider/drivers/proxmox/api/errors";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { clientFor, fakepve, uniqueName } from "./testbed";

function context(seconds: number): OperationContext & { lines: string[] } {
  const lines: string[] = [];
  return { lines, progress: (m) => lines.push(m), deadline: Date.now() + seconds * 1000, connect: () => Promise.reject(new Error("no other hosts here")) };
}

/**
 * A client whose connection breaks at a chosen point: after a matching request has reached fakepve
 * (so PVE acted on it) the answer is lost, and optionally every later call fails too. The server
 * is the real fakepve; only the way back is cut, as a dropped TCP connection does.
 */
class Breaking extends PveClient {
  broken = false;
  constructor(
    base: PveClient,
    readonly breaksAfter: (method: Method, path: string) => boolean,
    readonly staysBroken: boolean,
  ) {
    super(base.options);
  }
  override async request<T>(method: Method, path: string, params: Params = {}): Promise<T> {
    if (this.broken && this.staysBroken) throw new PveTransportError(`Proxmox VE: ${method} ${path}: other side closed`);
    const answer = await super.request<T>(method, path, params);
    if (!this.broken && this.breaksAfter(method, path)) {
      this.broken = true;
      throw new PveTransportError(`Proxmox VE: ${method} ${path}: other side closed`);
    }
    return answer;
  }
}

/** Creates that meet broken connections and full storage: every VM PVE made is recorded, nothing is left half made and unrecorded. */
describe("Proxmox VE create faults: lost answers, full storage, id races (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  let api: PveClient;
  const cleanup: string[] = [];
  const spec = (extra: Record<string, unknown> = {}) =>
    VirtualMachineInputs.parse({ host: "pve", name: uniqueName("cf"), memory: { sizeMiB: 64 }, powerState: "stopped", updatePolicy: { shutdownTimeoutSeconds: 1 }, ...extra });
  const listed = async () => api.get<{ vmid: number; name?: string }[]>(`/nodes/${pve.node}/qemu`);

  before(() => {
    api = clientFor(pve);
  });
  after(async () => {
    const vms = new ProxmoxVmResource(api, pve.node);
    for (const id of cleanup) await vms.delete(id, spec(), context(20)).catch((e) => console.error(`cleanup ${id}: ${e}`));
    await api?.close();
  });

  it("the create's answer is lost on the way back: the VM PVE made is found under the id sent and kept", async () => {
    const s = spec();
    const client = new Breaking(clientFor(pve), (m, p) => m === "POST" && p === `/nodes/${pve.node}/qemu`, false);
    const ctx = context(20);
    const vm = await new ProxmoxVmResource(client, pve.node).create(s, ctx);
    cleanup.push(vm.id);
    assert.ok(client.broken);
    assert.match(ctx.lines.join("\n"), new RegExp(`the connection broke while creating VM ${vm.id}, but Proxmox VE made it: keeping id ${vm.id}`));
    assert.equal((await listed()).filter((v) => v.name === s.name).length, 1, "exactly one VM of that name: no second create");
    assert.equal(String(vm.id), String((await listed()).find((v) => v.name === s.name)?.vmid));
    await client.close();
  });

  it("the connection breaks while the create task runs: the id is handed back for the state, and the next refresh reads the VM", async () => {
    const s = spec();
    const client = new Breaking(clientFor(pve), (m, p) => m === "GET" && /\/tasks\/UPID:[^/]*qmcreate[^/]*\/status$/.test(p), true);
    const vms = new ProxmoxVmResource(client, pve.node);
    let partial: PartialCreateError | undefined;
    await assert.rejects(vms.create(s, context(20)), (e: unknown) => {
      assert.ok(e instanceof PartialCreateError, String(e));
      partial = e;
      return true;
    });
    cleanup.push(partial!.id);
    assert.match(partial!.message, /may be half made: .*other side closed; and reading it back failed .* so its id is kept for the next refresh/);
    assert.equal(String((await listed()).find((v) => v.name === s.name)?.vmid), partial!.id, "the recorded id is the VM PVE made");
    const read = await new ProxmoxVmResource(api, pve.node).read(partial!.id, s);
    assert.equal(read?.spec.name, s.name);
    await client.close();
  });

  it("a create onto full storage fails with PVE's reason; PVE removes the VM, so nothing is recorded or left", async () => {
    const store = await api.get<{ content: string }>("/storage/local");
    const withImages = store.content.split(",").includes("images");
    // fakepve's `local` is a 50 GiB directory storage that keeps count of its free space; it takes disks once `images` is in its content.
    if (!withImages) await api.put("/storage/local", { content: `${store.content},images` });
    try {
      const s = spec({ disks: { scsi0: { pool: "local", sizeGiB: 100 } } });
      await assert.rejects(new ProxmoxVmResource(api, pve.node).create(s, context(20)), (e: unknown) => {
        assert.ok(!(e instanceof PartialCreateError), "nothing to record");
        assert.match(String((e as Error).message), /failed: unable to create VM \d+ - unable to write to storage 'local': No space left on device/);
        return true;
      });
      assert.equal((await listed()).filter((v) => v.name === s.name).length, 0, "no VM left behind");
    } finally {
      if (!withImages) await api.put("/storage/local", { content: store.content });
    }
  });

  it("50 parallel creates on one node: zero failures, zero duplicates in the node's VM list", async () => {
    const vms = new ProxmoxVmResource(api, pve.node);
    const prefix = uniqueName("r50");
    const specs = Array.from({ length: 50 }, (_, i) => spec({ name: `${prefix}-${i}` }));
    const made = await Promise.allSettled(specs.map((s) => vms.create(s, context(60))));
    for (const m of made) if (m.status === "fulfilled") cleanup.push(m.value.id);
    assert.deepEqual(
      made.filter((m) => m.status === "rejected").map((m) => String((m as PromiseRejectedResult).reason)),
      [],
    );
    const ours = (await listed()).filter((v) => v.name?.startsWith(`${prefix}-`));
    assert.equal(ours.length, 50, "50 VMs on the node");
    assert.equal(new Set(ours.map((v) => v.vmid)).size, 50, "50 distinct ids");
    assert.equal(new Set(ours.map((v) => v.name)).size, 50, "no name made twice");
    for (const [i, m] of made.entries()) {
      assert.equal(ours.find((v) => String(v.vmid) === (m as PromiseFulfilledResult<{ id: string }>).value.id)?.name, specs[i].name);
    }
  });
});
