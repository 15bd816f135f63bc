import { strict as assert } from "node:assert";
import { balloonGuestStats, queryBalloon, queryMigrate, queryStatus, setBalloonStatsInterval, QmpError, type QmpClient } from "../../../provider/drivers/libvirt/qmp";
import { connect, ensureQemu, startQemu, type QemuProcess } from "./qemu";

describe("typed QMP helpers against a real QEMU", function () {
  this.timeout(60_000);
  let q: QemuProcess;
  let c: QmpClient;

  before(async () => {
    q = await startQemu(ensureQemu(), { memMiB: 96, extra: ["-device", "virtio-balloon-pci,id=balloon0"] });
    c = await connect(q);
  });
  after(async () => {
    await c?.close();
    await q?.kill();
  });

  it("queryStatus sees a running machine", async () => {
    assert.deepEqual(await queryStatus(c), { running: true, status: "running" });
  });

  it("queryMigrate reports none before any migration", async () => {
    assert.equal((await queryMigrate(c)).status, "none");
  });

  it("queryBalloon reports the configured memory in bytes", async () => {
    assert.equal((await queryBalloon(c)).actual, 96 * 1024 * 1024);
  });

  it("balloon guest stats are readable once polling is on, empty without a guest driver", async () => {
    await setBalloonStatsInterval(c, 1);
    assert.equal(await c.execute("qom-get", { path: "/machine/peripheral/balloon0", property: "guest-stats-polling-interval" }), 1);
    const s = await balloonGuestStats(c);
    // No OS runs, so nothing has reported: every stat is QEMU's "unavailable" value.
    assert.equal(s.lastUpdate, 0);
    assert.ok("stat-free-memory" in s.stats && "stat-total-memory" in s.stats, JSON.stringify(s));
    assert.ok(
      Object.values(s.stats).every((v) => v === null),
      JSON.stringify(s),
    );
  });

  it("balloon stats on a device that does not exist surface a typed error", async () => {
    const err = await balloonGuestStats(c, "/machine/peripheral/nope").then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof QmpError && err.errorClass === "DeviceNotFound", String(err));
  });
});
