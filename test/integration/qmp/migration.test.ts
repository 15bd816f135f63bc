import { strict as assert } from "node:assert";
import { migrate, queryStatus, waitForMigration, type QmpClient } from "../../../provider/drivers/libvirt/qmp";
import { connect, ensureQemu, freePort, startQemu, type QemuProcess } from "./qemu";

describe("local live migration between two QEMU processes over QMP", function () {
  this.timeout(120_000);
  const procs: QemuProcess[] = [];
  const clients: QmpClient[] = [];

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => p.kill()));
  });

  it("migrates a running 128 MiB guest and reports total time and downtime", async () => {
    const bin = ensureQemu();
    // Source and destination must describe identical hardware.
    const hw = { memMiB: 128, extra: ["-device", "virtio-balloon-pci,id=balloon0"] };
    const port = await freePort();
    const src = await startQemu(bin, hw);
    const dst = await startQemu(bin, { ...hw, extra: [...hw.extra, "-incoming", `tcp:127.0.0.1:${port}`] });
    procs.push(src, dst);
    const [s, d] = await Promise.all([connect(src), connect(dst)]);
    clients.push(s, d);

    assert.equal((await queryStatus(s)).status, "running");
    assert.equal((await queryStatus(d)).status, "inmigrate");

    const resumed = d.waitForEvent("RESUME", 60_000);
    await migrate(s, `tcp:127.0.0.1:${port}`);
    const info = await waitForMigration(s, { timeoutMs: 60_000, intervalMs: 20 });

    assert.equal(info.status, "completed", JSON.stringify(info));
    assert.ok(typeof info["total-time"] === "number" && info["total-time"] > 0);
    assert.ok(typeof info.downtime === "number" && info.downtime >= 0);
    assert.ok(info.ram && info.ram.transferred > 0);
    await resumed;
    assert.deepEqual(await queryStatus(d), { running: true, status: "running" });
    assert.equal((await queryStatus(s)).status, "postmigrate");
    console.log(`      QMP migration: total ${info["total-time"]} ms, downtime ${info.downtime} ms, ` + `setup ${info["setup-time"]} ms, ${info.ram.transferred} bytes sent`);
  });
});
