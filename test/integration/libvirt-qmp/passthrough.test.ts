import assert from "node:assert/strict";
import { balloonGuestStats, QmpError, queryBalloon, queryStatus } from "../../../provider/drivers/libvirt/qmp";
import { LibvirtQmpTransport } from "../../../provider/drivers/libvirt/qmp-passthrough";
import { LibvirtError, type DomainRef, type LibvirtClient } from "../../../provider/drivers/libvirt/rpc";
import { eventually, startTestGuest, type TestGuest } from "../libvirt-metrics/guest";

const MIB = 2 ** 20;
const AFFECT_LIVE = 1;

/**
 * The typed QMP helpers over libvirt's QEMU monitor passthrough, against a running libvirt
 * domain booting the testbed guest (which loads virtio_balloon).
 */
describe("QMP through libvirt (virDomainQemuMonitorCommand)", function () {
  this.timeout(300_000);
  let guest: TestGuest;
  let client: LibvirtClient;
  let dom: DomainRef;
  let qmp: LibvirtQmpTransport;

  before(async () => {
    guest = await startTestGuest("qmp", { memoryMiB: 192 });
    client = await guest.driver.session.get();
    dom = (await client.call("domainLookupByUuid", { uuid: guest.uuid })).dom;
    qmp = new LibvirtQmpTransport(client, dom);
  });

  after(async () => {
    await guest?.destroy();
  });

  it("queryStatus follows the domain through libvirt's suspend and resume", async () => {
    assert.deepEqual(await queryStatus(qmp), { running: true, status: "running" });
    await client.call("domainSuspend", { dom });
    try {
      assert.deepEqual(await queryStatus(qmp), { running: false, status: "paused" });
    } finally {
      await client.call("domainResume", { dom });
    }
    assert.equal((await queryStatus(qmp)).status, "running");
  });

  it("queryBalloon reports the memory size, and follows a live balloon change made through libvirt", async () => {
    assert.equal((await queryBalloon(qmp)).actual, 192 * MIB);
    // The guest's virtio_balloon driver has to give the pages back, so wait for it.
    await eventually(
      () => queryStatus(qmp),
      (s) => s.running,
      10_000,
      "running",
    );
    await client.call("domainSetMemoryFlags", { dom, memory: BigInt(160 * 1024), flags: AFFECT_LIVE });
    await eventually(
      () => queryBalloon(qmp),
      (b) => b.actual === 160 * MIB,
      60_000,
      "balloon at 160 MiB",
    );
  });

  it("balloon guest statistics arrive from the guest driver (libvirt turned polling on)", async () => {
    const stats = await eventually(
      () => balloonGuestStats(qmp),
      (s) => s.lastUpdate > 0 && s.stats["stat-total-memory"] !== null,
      60_000,
      "guest balloon stats",
    );
    const total = stats.stats["stat-total-memory"]!;
    const free = stats.stats["stat-free-memory"];
    // The guest's own view: at most what the balloon gives it, and a kernel needs some of it.
    assert.ok(total > 64 * MIB && total <= 192 * MIB, `total ${total}`);
    assert.ok(free !== null && free !== undefined && free > 0 && free < total, `free ${free} of ${total}`);
    assert.ok(stats.lastUpdate > Date.now() / 1000 - 600, `lastUpdate ${stats.lastUpdate} is a recent host timestamp`);
  });

  it("an unknown command is a QmpError of class CommandNotFound, and the channel stays usable", async () => {
    const error = await qmp.execute("novacron-no-such-command").then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof QmpError, `got ${String(error)}`);
    assert.equal(error.errorClass, "CommandNotFound");
    assert.equal(error.command, "novacron-no-such-command");
    assert.equal((await queryStatus(qmp)).running, true);
  });

  it("bad arguments to a real command are a QmpError too", async () => {
    const error = await qmp.execute("qom-get", { path: "/machine/peripheral/no-such-device", property: "guest-stats" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof QmpError && error.errorClass === "DeviceNotFound", String(error));
  });

  it("a domain that is not running is refused by libvirt itself", async () => {
    await client.call("domainDestroyFlags", { dom, flags: 0 });
    const error = await queryStatus(qmp).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof LibvirtError && error.isOperationInvalid(), `got ${String(error)}`);
  });
});
