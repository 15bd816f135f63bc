import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { VirtualMachineInputs } from "../../../provider/core/model";
import { PveClient, type Params } from "../../../provider/drivers/proxmox/api/client";
import { PveTaskError } from "../../../provider/drivers/proxmox/api/errors";
import { waitForTask } from "../../../provider/drivers/proxmox/api/tasks";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { Guest } from "../../../provider/drivers/proxmox/vm/power";
import { clientFor, fakepve, uniqueName } from "./testbed";

/** Fixture VMs of test/testbeds/proxmox/guests.json. */
const LOCKED = 9001;
const SLOW_SHUTDOWN = 9002;
const BUSY = 9003;

function context(seconds: number): OperationContext & { lines: string[] } {
  const lines: string[] = [];
  return { lines, progress: (m) => lines.push(m), deadline: Date.now() + seconds * 1000, connect: () => Promise.reject(new Error("no other hosts here")) };
}

/**
 * Faults fakepve injects through its fixture guests: a VM a backup keeps locked, a guest that
 * ignores ACPI, a task holding the config lock (on the time-scaled instance, where a PVE second
 * is 20 ms). Driven at the driver level so the deadlines can be short.
 */
describe("Proxmox VE faults: locks, slow shutdowns, id races (fakepve)", function () {
  this.timeout(60_000);
  const pve = fakepve();
  let api: PveClient;
  let timed: PveClient;

  before(() => {
    api = clientFor(pve);
    timed = clientFor(pve, { url: pve.timedUrl });
  });
  after(async () => {
    await api?.close();
    await timed?.close();
  });

  it("a start of a VM a backup keeps locked fails its task with the task log quoted", async () => {
    const upid = await api.post<string>(`/nodes/${pve.node}/qemu/${LOCKED}/status/start`);
    await assert.rejects(waitForTask(api, upid, context(5)), (e: unknown) => {
      assert.ok(e instanceof PveTaskError);
      assert.equal(e.exitStatus, "VM is locked (backup)");
      assert.ok(e.isLock);
      assert.match(
        e.message,
        new RegExp(`task qmstart ${LOCKED} on ${pve.node} failed: VM is locked \\(backup\\)\\ntask log:\\n(.|\\n)*\\| TASK ERROR: VM is locked \\(backup\\)`),
      );
      return true;
    });
  });

  it("a lock that stays is retried with backoff until the deadline, then named in a clear error", async () => {
    const ctx = context(1.5);
    const started = Date.now();
    await assert.rejects(new Guest(api, pve.node, LOCKED).action("start", ctx), (e: Error) => {
      assert.match(e.message, /^start of VM 9001: the VM stayed locked for \d+\.\d s \((\d+) attempts; PVE said "VM is locked \(backup\)"\); gave up at the operation deadline/);
      assert.ok(Number(/\((\d+) attempts/.exec(e.message)![1]) >= 3, e.message);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 1000 && took < 4000, `gave up after ${took} ms`);
    assert.match(ctx.lines[0], /VM is locked \(backup\); retrying/);
  });

  it("a VM without NovaCron's tag is never destroyed: delete leaves it in place and says why", async () => {
    const vms = new ProxmoxVmResource(api, pve.node);
    const ctx = context(5);
    const spec = VirtualMachineInputs.parse({ host: "pve", name: "nc-fixture-locked", memory: { sizeMiB: 512 } });
    await vms.delete(String(LOCKED), spec, ctx);
    assert.match(ctx.lines.join("\n"), /does not carry NovaCron's tag: it is not the VM NovaCron made, so it is left in place/);
    assert.equal((await api.get<{ name: string }>(`/nodes/${pve.node}/qemu/${LOCKED}/config`)).name, "nc-fixture-locked");
    assert.equal(await vms.read(String(LOCKED), spec), undefined, "refresh does not claim it either");
  });

  it("nor is its power state changed: a power-only update of an untagged VM is refused before any action", async () => {
    const vms = new ProxmoxVmResource(api, pve.node);
    const guest = new Guest(api, pve.node, SLOW_SHUTDOWN);
    if ((await guest.status()).status !== "running") await guest.action("start", context(5));
    const running = VirtualMachineInputs.parse({ host: "pve", name: "nc-fixture-slow-shutdown", memory: { sizeMiB: 512 } });
    await assert.rejects(
      vms.update(String(SLOW_SHUTDOWN), running, { ...running, powerState: "stopped" }, { changes: [], worst: "live", replaces: [] }, context(5)),
      /VM 9002 does not carry NovaCron's tag; refusing to change the power state/,
    );
    assert.equal((await guest.status()).status, "running");
  });

  it("a guest that ignores the ACPI shutdown is stopped after the graceful timeout", async () => {
    const guest = new Guest(api, pve.node, SLOW_SHUTDOWN);
    if ((await guest.status()).status !== "running") await guest.action("start", context(5));
    const ctx = context(10);
    await guest.shutdown({ updatePolicy: { shutdownTimeoutSeconds: 3, allowReboot: false } }, ctx);
    assert.equal((await guest.status()).status, "stopped");
    assert.match(ctx.lines.join("\n"), /shutting down VM 9002 \(ACPI, up to 3 s\)\ngraceful shutdown did not finish \(VM quit\/powerdown failed - got timeout\); stopping VM 9002/);
    await guest.action("start", context(5)); // the fixture stays as it was
  });

  it("a config lock held by a running task is waited out: the start is retried and succeeds", async () => {
    const guest = new Guest(timed, pve.node, BUSY);
    if ((await guest.status()).status !== "running") await guest.action("start", context(10));
    // A shutdown of this guest takes 50 PVE seconds (1 s here) and holds the lock all along;
    // PVE's own lock wait is 10 PVE seconds (0.2 s), so start attempts time out on the lock until it ends.
    const shutdown = await timed.post<string>(`/nodes/${pve.node}/qemu/${BUSY}/status/shutdown`);
    const ctx = context(15);
    await guest.action("start", ctx);
    assert.equal((await guest.status()).status, "running");
    assert.match(ctx.lines.join("\n"), /start of VM 9003: can't lock file '\/var\/lock\/qemu-server\/lock-9003.conf' - got timeout; retrying/);
    await waitForTask(timed, shutdown, context(5));
  });

  it("a config edited between the driver's read and its write (stale digest) is read again: the other edit is kept", async () => {
    /** Someone else's edit lands just before the driver's first config write. */
    class Interfering extends PveClient {
      interfered = false;
      override async put<T>(path: string, params: Params = {}): Promise<T> {
        if (!this.interfered && path.endsWith("/config")) {
          this.interfered = true;
          await api.put(path, { onboot: 1 });
        }
        return super.put<T>(path, params);
      }
    }
    const racing = new Interfering({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile });
    const spec = VirtualMachineInputs.parse({ host: "pve", name: uniqueName("digest"), memory: { sizeMiB: 64 }, powerState: "stopped", labels: { v: "1" } });
    const made = await new ProxmoxVmResource(api, pve.node).create(spec, context(10));
    try {
      const ctx = context(10);
      await new ProxmoxVmResource(racing, pve.node).update(made.id, made.spec, { ...spec, labels: { v: "2" } }, { changes: [], worst: "live", replaces: [] }, ctx);
      assert.ok(racing.interfered);
      const cfg = await api.get<Record<string, string | number>>(`/nodes/${pve.node}/qemu/${made.id}/config`);
      assert.equal(Number(cfg.onboot), 1, "the other edit survived");
      assert.match(String(cfg.description), /novacron-labels: \{"v":"2"\}/);
      assert.match(ctx.lines.join("\n"), /config changed while it was being updated \(checksum mismatch/);
    } finally {
      await new ProxmoxVmResource(api, pve.node).delete(made.id, spec, context(10));
      await racing.close();
    }
  });

  it("50 parallel creates on one node race for ids: every one gets its own, none fails", async () => {
    const vms = new ProxmoxVmResource(api, pve.node);
    const prefix = uniqueName("race");
    const specs = Array.from({ length: 50 }, (_, i) => VirtualMachineInputs.parse({ host: "pve", name: `${prefix}-${i}`, memory: { sizeMiB: 64 }, powerState: "stopped" }));
    const ctx = context(60);
    const made = await Promise.allSettled(specs.map((s) => vms.create(s, ctx)));
    const ids = made.flatMap((m) => (m.status === "fulfilled" ? [m.value.id] : []));
    try {
      assert.deepEqual(
        made.filter((m) => m.status === "rejected").map((m) => String((m as PromiseRejectedResult).reason)),
        [],
      );
      assert.equal(new Set(ids).size, 50, `ids: ${ids.join(" ")}`);
      for (const [i, id] of ids.entries()) {
        assert.equal((await api.get<{ name: string }>(`/nodes/${pve.node}/qemu/${id}/config`)).name, specs[i].name);
      }
      assert.ok(
        ctx.lines.some((l) => /was taken by another create; asking for another/.test(l)),
        "the race did happen",
      );
    } finally {
      await Promise.all(ids.map((id, i) => vms.delete(id, specs[i], context(30))));
    }
  });
});
