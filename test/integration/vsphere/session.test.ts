import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { closeAllSessions, connect, getProperties, InvalidLoginError, lookup, VimClient, VimTransportError, type VimConnectOptions } from "../../../provider/drivers/vsphere/soap";
import { createVm, destroyVm, readVm, resolvePlacement } from "../../../provider/drivers/vsphere/vm";
import { DATACENTER, uniqueName, vcsim } from "./testbed";

/** Sessions the simulator holds whose User-Agent is `agent`, read through a separate observer session. */
async function sessionsOf(agent: string): Promise<string[]> {
  const observer = new VimClient({ ...vcsim().options, userAgent: "novacron-test-observer" });
  await observer.connect();
  try {
    const c = await getProperties(observer, observer.serviceContent.ref("sessionManager"), ["sessionList"]);
    return (c.props.get("sessionList")?.children ?? [])
      .filter((s) => s.children.find((x) => x.name === "userAgent")?.text === agent)
      .map((s) => s.children.find((x) => x.name === "key")?.text ?? "");
  } finally {
    await observer.logout();
  }
}

function runChild(options: VimConnectOptions, agent: string, mode: "drain" | "wait-for-signal"): Promise<number | null> {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "fixtures/session-child.ts"), mode], {
    env: { ...process.env, NOVACRON_TEST_VIM: JSON.stringify(options), NOVACRON_TEST_AGENT: agent },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", async (chunk: Buffer) => {
      if (mode === "wait-for-signal" && chunk.toString().includes("ready")) {
        try {
          assert.equal((await sessionsOf(agent)).length, 1, "child holds its session while running");
        } catch (err) {
          reject(err);
        }
        child.kill("SIGTERM");
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)));
  });
}

describe("vSphere session handling against vcsim", function () {
  this.timeout(60_000);
  before(function () {
    this.timeout(300_000); // a fresh machine installs Go and builds the simulator first
    vcsim();
  });
  afterEach(() => closeAllSessions());

  it("rejects wrong credentials with a clear InvalidLoginError after exactly one Login", async () => {
    const bad = { ...vcsim().options, password: "wrong" };
    const client = new VimClient(bad);
    await assert.rejects(client.connect(), (err: unknown) => {
      assert.ok(err instanceof InvalidLoginError);
      assert.match(err.message, /rejected user "novacron"/);
      assert.match(err.message, /not retried/);
      return true;
    });
    assert.equal(client.roundTrips, 3, "version listing, RetrieveServiceContent, one Login: no retries");

    // Through the shared registry: the failure is not cached, and the right password then works.
    await assert.rejects(connect(bad), InvalidLoginError);
    const good = await connect(vcsim().options);
    assert.equal(good.isLoggedIn, true);
  });

  it("speaks the newest vim25 version the server lists, unless told otherwise", async () => {
    const negotiated = await new VimClient(vcsim().options).connect();
    assert.equal(negotiated.soapAction, `urn:vim25/${negotiated.serviceContent.about.apiVersion}`);
    await negotiated.logout();
    const pinned = new VimClient({ ...vcsim().options, apiVersion: "6.0" });
    await pinned.connect();
    assert.equal(pinned.soapAction, "urn:vim25/6.0");
    assert.equal(pinned.roundTrips, 2, "no version listing fetched");
    await pinned.logout();
  });

  it("verifies TLS by default, trusts a given CA, and skips verification only when asked", async () => {
    const { ca: _ca, ...noCa } = vcsim().options;
    await assert.rejects(new VimClient(noCa).connect(), (err: unknown) => {
      assert.ok(err instanceof VimTransportError);
      assert.match(err.message, /certificate/i);
      return true;
    });
    const pinned = await new VimClient(vcsim().options).connect();
    await pinned.logout();
    const insecure = await new VimClient({ ...noCa, insecure: true }).connect();
    await insecure.logout();
  });

  it("shares one session across callers: 100 operations leave exactly one session for us", async () => {
    const agent = `novacron-test-${process.pid}-${Date.now()}`;
    const options = { ...vcsim().options, userAgent: agent };
    const [a, b] = await Promise.all([connect(options), connect(options)]);
    assert.equal(a, b, "concurrent connects share one client");

    const placement = await resolvePlacement(a, { datacenter: DATACENTER, resourcePool: "DC0_C0", datastore: "LocalDS_0" });
    let ops = 0;
    // The simulator (0.24.2) can panic when FindChild walks a folder while
    // another CreateVM in it is half done, so creates take turns; everything
    // else runs concurrently.
    let createTurn: Promise<unknown> = Promise.resolve();
    // 10 callers, each asking the registry for its client, 10 operations each.
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const client = await connect(options);
        const create = createTurn.then(() => createVm(client, placement, { name: uniqueName(`nc-sess${i}`), numCPUs: 1, memoryMB: 64, disks: {}, nics: {} }));
        createTurn = create.catch(() => undefined);
        const vm = await create;
        ops++;
        for (let j = 0; j < 7; j++) {
          await lookup(client, "host", `DC0_C0/DC0_C0_H${j % 3}`, DATACENTER);
          ops++;
        }
        assert.equal((await readVm(client, vm)).powerState, "poweredOff");
        ops++;
        assert.equal((await destroyVm(client, vm)).existed, true);
        ops++;
      }),
    );
    assert.equal(ops, 100);
    const mine = await sessionsOf(agent);
    assert.equal(mine.length, 1, `sessions for us: ${mine.join(", ")}`);

    await closeAllSessions();
    assert.deepEqual(await sessionsOf(agent), [], "closeAllSessions logs out");
  });

  it("logs in again once when the server ends the session", async () => {
    const agent = `novacron-test-relogin-${process.pid}-${Date.now()}`;
    const client = await connect({ ...vcsim().options, userAgent: agent });
    const [key] = await sessionsOf(agent);
    assert.ok(key);
    const admin = await new VimClient(vcsim().options).connect();
    await admin.invoke("TerminateSession", admin.serviceContent.ref("sessionManager"), { sessionId: [key] });
    await admin.logout();
    assert.deepEqual(await sessionsOf(agent), []);

    const before = client.roundTrips;
    const root = await getProperties(client, client.serviceContent.ref("rootFolder"), ["name"]);
    assert.equal(root.props.get("name")?.text, "Datacenters");
    assert.equal(client.roundTrips - before, 3, "failed read, Login, read again");
    const now = await sessionsOf(agent);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], key);

    // Ten callers losing the session at once share one Login.
    const admin2 = await new VimClient(vcsim().options).connect();
    await admin2.invoke("TerminateSession", admin2.serviceContent.ref("sessionManager"), { sessionId: [now[0]!] });
    await admin2.logout();
    const start = client.roundTrips;
    const names = await Promise.all(Array.from({ length: 10 }, () => getProperties(client, client.serviceContent.ref("rootFolder"), ["name"])));
    assert.ok(names.every((n) => n.props.get("name")?.text === "Datacenters"));
    assert.equal(client.roundTrips - start, 21, "10 failed reads, one Login, 10 reads again");
    assert.equal((await sessionsOf(agent)).length, 1);
  });

  it("logs out when the process ends on its own (beforeExit)", async () => {
    const agent = `novacron-test-drain-${process.pid}-${Date.now()}`;
    assert.equal(await runChild(vcsim().options, agent, "drain"), 0);
    assert.deepEqual(await sessionsOf(agent), []);
  });

  it("logs out when the process is terminated by SIGTERM", async () => {
    const agent = `novacron-test-sigterm-${process.pid}-${Date.now()}`;
    const code = await runChild(vcsim().options, agent, "wait-for-signal");
    assert.notEqual(code, 0, "the signal still terminates the process");
    assert.deepEqual(await sessionsOf(agent), []);
  });
});
