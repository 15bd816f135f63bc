import { strict as assert } from "node:assert";
import { once } from "node:events";
import { QmpClient, QmpConnectionError, QmpError, QmpTimeoutError, type QmpEvent } from "../../../provider/drivers/libvirt/qmp";
import { connect, ensureQemu, startQemu, type QemuProcess } from "./qemu";

describe("QMP client against a real QEMU", function () {
  this.timeout(60_000);
  let qemuBin: string;
  const started: QemuProcess[] = [];
  const clients: QmpClient[] = [];

  before(() => {
    qemuBin = ensureQemu();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(started.splice(0).map((q) => q.kill()));
  });

  async function session(extra: string[] = []): Promise<{ q: QemuProcess; c: QmpClient }> {
    const q = await startQemu(qemuBin, { extra });
    started.push(q);
    const c = await connect(q);
    clients.push(c);
    return { q, c };
  }

  it("reads the greeting and negotiates capabilities", async () => {
    const { c } = await session(["-S"]);
    assert.ok(c.greeting.version.qemu.major >= 7, JSON.stringify(c.greeting));
    assert.equal(typeof c.greeting.version.package, "string");
    assert.ok(c.greeting.capabilities.includes("oob"), "QEMU ≥ 2.12 offers oob");
    // Only answered after qmp_capabilities; before it QEMU refuses with CommandNotFound.
    const v = await c.execute<{ qemu: { major: number } }>("query-version");
    assert.equal(v.qemu.major, c.greeting.version.qemu.major);
  });

  it("query-status reports prelaunch under -S", async () => {
    const { c } = await session(["-S"]);
    assert.deepEqual(await c.execute("query-status"), { running: false, singlestep: false, status: "prelaunch" });
  });

  it("emits STOP then RESUME with timestamps for stop/cont", async () => {
    const { c } = await session();
    const seen: QmpEvent[] = [];
    c.on("event", (e) => seen.push(e));
    await c.execute("stop");
    const resumed = c.waitForEvent("RESUME", 5_000);
    await c.execute("cont");
    await resumed;
    const names = seen.map((e) => e.event).filter((n) => n === "STOP" || n === "RESUME");
    assert.deepEqual(names, ["STOP", "RESUME"]);
    const [stop, resume] = seen;
    assert.ok(stop.timestamp.seconds > 1_600_000_000, "wall-clock seconds");
    const t = (e: QmpEvent): number => e.timestamp.seconds * 1e6 + e.timestamp.microseconds;
    assert.ok(t(resume) >= t(stop));
  });

  it("rejects an unknown command with a typed CommandNotFound error", async () => {
    const { c } = await session(["-S"]);
    const err = await c.execute("nc-no-such-command").then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof QmpError, String(err));
    assert.equal(err.errorClass, "CommandNotFound");
    assert.equal(err.command, "nc-no-such-command");
    assert.match(err.desc, /nc-no-such-command/);
    // The session stays usable after an error.
    assert.equal((await c.execute<{ status: string }>("query-status")).status, "prelaunch");
  });

  it("matches concurrent replies to their commands", async () => {
    const { c } = await session(["-S", "-name", "nc-concurrent"]);
    const [status, name, kvm, bad, version, ...many] = await Promise.all([
      c.execute<{ status: string }>("query-status"),
      c.execute<{ name: string }>("query-name"),
      c.execute<{ enabled: boolean }>("query-kvm"),
      c.execute("qom-get", { path: "/nope", property: "x" }).catch((e: unknown) => e),
      c.execute<{ qemu: { major: number } }>("query-version"),
      ...Array.from({ length: 20 }, (_, i) => c.execute<{ name: string }[]>("qom-list", { path: i % 2 ? "/machine" : "/objects" })),
    ]);
    assert.equal(status.status, "prelaunch");
    assert.equal(name.name, "nc-concurrent");
    assert.equal(kvm.enabled, false);
    assert.ok(bad instanceof QmpError && bad.errorClass === "DeviceNotFound", String(bad));
    assert.ok(version.qemu.major >= 7);
    many.forEach((props, i) => {
      const names = props.map((p) => p.name);
      // /machine has the i440fx host bridge; /objects does not.
      assert.equal(names.includes("i440fx"), i % 2 === 1, `reply ${i} went to the wrong caller`);
    });
  });

  it("times out a command QEMU does not answer", async () => {
    const { q, c } = await session(["-S"]);
    q.proc.kill("SIGSTOP");
    const err = await c.execute("query-status", undefined, { timeoutMs: 200 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof QmpTimeoutError, String(err));
    q.proc.kill("SIGCONT");
  });

  it("rejects a pending command promptly when QEMU is killed", async () => {
    const { q, c } = await session(["-S"]);
    q.proc.kill("SIGSTOP"); // keeps the command pending until the kill
    const pending = c.execute("query-status", undefined, { timeoutMs: 30_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    const closed = once(c, "close");
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    q.proc.kill("SIGKILL");
    const err = await pending;
    const ms = Date.now() - t0;
    assert.ok(err instanceof QmpConnectionError, String(err));
    assert.ok(ms < 1_000, `rejected after ${ms} ms`);
    const [reason] = await closed;
    assert.ok(reason instanceof QmpConnectionError);
    assert.equal(c.closed, true);
    await assert.rejects(c.execute("query-status"), QmpConnectionError);
  });

  it("close() rejects pending commands", async () => {
    const { q, c } = await session(["-S"]);
    q.proc.kill("SIGSTOP");
    const pending = c.execute("query-status").then(
      () => null,
      (e: unknown) => e,
    );
    await c.close();
    const err = await pending;
    assert.ok(err instanceof QmpConnectionError, String(err));
    assert.match(err.message, /closed/);
    q.proc.kill("SIGCONT");
  });

  it("fails to connect to a socket nobody serves", async () => {
    await assert.rejects(QmpClient.connect("/nonexistent/nc-qmp.sock", { connectTimeoutMs: 1_000 }), QmpConnectionError);
  });
});
