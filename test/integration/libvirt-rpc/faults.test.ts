// Transport and protocol faults. Frame-level misbehaviour is injected by a
// small fake server on a unix socket (libvirtd cannot be made to send bad
// frames); a dropped connection is also exercised against the real daemon
// through a proxy that cuts both sides mid-call.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibvirtClient, LibvirtConnectionError, LibvirtProtocolError, LibvirtTimeoutError } from "../../../provider/drivers/libvirt/rpc";
import { MessageStatus, MessageType, buildFrame, type Frame } from "../../../provider/drivers/libvirt/rpc/packet";
import { fakeDaemon, hostnameReply, reply, type Behaviour } from "./fake-daemon";
import { useLibvirtTestbed } from "./testbed";

async function timed<T>(p: Promise<T>): Promise<{ ms: number; result: T | Error }> {
  const t0 = Date.now();
  const result = await p.then(
    (v) => v,
    (e: Error) => e,
  );
  return { ms: Date.now() - t0, result };
}

describe("libvirt RPC: faults", function () {
  this.timeout(30_000);
  useLibvirtTestbed();
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-faults-"));
  let n = 0;
  const servers: Server[] = [];
  const sockPath = (): string => join(dir, `s${n++}.sock`);

  async function withFake(
    behaviour: Behaviour,
    opts: { keepalive?: boolean; callTimeoutMs?: number; keepaliveIntervalMs?: number; keepaliveCount?: number; maxCallsInFlight?: number } = {},
  ): Promise<LibvirtClient> {
    const path = sockPath();
    servers.push(await fakeDaemon(path, behaviour, opts.keepalive));
    return LibvirtClient.connect(`test+unix:///default?socket=${path}`, opts);
  }

  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers out-of-order replies to the right callers", async () => {
    const held: Frame[] = [];
    const c = await withFake(
      (sock, f) => {
        // Frames are views into the fake's receive buffer: keep copies.
        held.push({ header: { ...f.header }, payload: Buffer.from(f.payload) });
        if (held.length === 50) for (const h of held.reverse()) hostnameReply(sock, h, `host-${h.header.serial}`);
      },
      { maxCallsInFlight: 50 },
    ); // all 50 on the wire at once, unlike libvirtd's limit of 5
    const calls = Array.from({ length: 50 }, () => c.call("connectGetHostname"));
    const names = (await Promise.all(calls)).map((r) => r.hostname);
    // Serials are allocated in call order after the 3 handshake calls.
    assert.deepEqual(
      names,
      Array.from({ length: 50 }, (_, i) => `host-${i + 4}`),
    );
    await c.close();
  });

  it("rejects every pending call promptly when the server drops the connection", async () => {
    let seen = 0;
    const c = await withFake((sock) => {
      if (++seen === 3) sock.destroy();
    });
    const { ms, result } = await timed(Promise.all([c.call("connectGetHostname"), c.call("connectGetHostname"), c.call("connectGetHostname")]));
    assert.ok(result instanceof LibvirtConnectionError, String(result));
    assert.ok(ms < 1000, `took ${ms} ms`);
    await assert.rejects(c.call("connectGetHostname"), LibvirtConnectionError);
  });

  for (const [what, bytes] of [
    ["a frame shorter than its header", Buffer.from([0, 0, 0, 8, 1, 2, 3, 4])],
    ["an impossible frame length", Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ] as const) {
    it(`closes with a protocol error on ${what}`, async () => {
      const c = await withFake((sock) => sock.write(bytes));
      const { ms, result } = await timed(c.call("connectGetHostname"));
      assert.ok(result instanceof LibvirtProtocolError, String(result));
      assert.ok(ms < 1000);
      assert.equal(c.isOpen, false);
    });
  }

  it("rejects a truncated frame when the peer then hangs up", async () => {
    const c = await withFake((sock, f) => {
      const full = buildFrame({ ...f.header, type: MessageType.REPLY, status: MessageStatus.OK }, (w) => w.string("x".repeat(100)));
      sock.end(full.subarray(0, 40));
    });
    const { result } = await timed(c.call("connectGetHostname"));
    assert.ok(result instanceof LibvirtConnectionError, String(result));
  });

  it("treats an undecodable reply body as a protocol error", async () => {
    const c = await withFake((sock, f) => reply(sock, f, (w) => w.uint(0x7fffffff))); // string length far beyond the frame
    await assert.rejects(c.call("connectGetHostname"), (e: unknown) => e instanceof LibvirtProtocolError && /cannot decode reply to connectGetHostname/.test(e.message));
    assert.equal(c.isOpen, false);
  });

  it("rejects a malformed server error record without crashing", async () => {
    const c = await withFake((sock, f) => sock.write(buildFrame({ ...f.header, type: MessageType.REPLY, status: MessageStatus.ERROR }, (w) => w.int(1))));
    await assert.rejects(c.call("connectGetHostname"), LibvirtProtocolError);
  });

  it("rejects calls still pending when the client closes", async () => {
    const c = await withFake(() => undefined); // never answers hostname
    const pending = timed(c.call("connectGetHostname", undefined, { timeoutMs: 0 }));
    await c.close();
    const { ms, result } = await pending;
    assert.ok(result instanceof LibvirtConnectionError && /closed by client/.test(result.message), String(result));
    assert.ok(ms < 1000, `took ${ms} ms`);
    await assert.rejects(c.call("connectGetHostname"), LibvirtConnectionError);
  });

  it("times out a single call and keeps the connection usable", async () => {
    let first = true;
    const c = await withFake((sock, f) => {
      if (first)
        first = false; // swallow the first call
      else hostnameReply(sock, f, "second");
    });
    const { ms, result } = await timed(c.call("connectGetHostname", undefined, { timeoutMs: 200 }));
    assert.ok(result instanceof LibvirtTimeoutError, String(result));
    assert.ok(ms >= 190 && ms < 1000, `took ${ms} ms`);
    assert.equal((await c.call("connectGetHostname")).hostname, "second");
    await c.close();
  });

  it("declares a silent peer dead through keepalive", async () => {
    const c = await withFake(() => undefined, { keepalive: true, keepaliveIntervalMs: 100, keepaliveCount: 2, callTimeoutMs: 0 });
    const { ms, result } = await timed(c.call("connectGetHostname"));
    assert.ok(result instanceof LibvirtConnectionError && /keepalive/.test(result.message), String(result));
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it("answers the daemon's keepalive pings so idle connections survive", async () => {
    const c = await LibvirtClient.connect("test+unix:///default", { keepaliveIntervalMs: 100, keepaliveCount: 2 });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(c.isOpen, true);
    assert.equal((await c.call("connectGetUri")).uri, "test:///default");
    await c.close();
  });

  it("rejects a call in flight when the link to the real libvirtd is cut, and reconnects", async () => {
    const path = sockPath();
    let armed = false;
    const links: Socket[] = [];
    const proxy = createServer((client) => {
      const upstream = createConnection("/var/run/libvirt/libvirt-sock");
      links.push(client, upstream);
      client.on("error", () => undefined);
      upstream.on("error", () => undefined);
      upstream.pipe(client);
      client.on("data", (d) => {
        if (armed) {
          for (const s of links) s.destroy();
          return;
        }
        upstream.write(d);
      });
    });
    servers.push(proxy);
    await new Promise<void>((r) => proxy.listen(path, () => r()));
    const uri = `test+unix:///default?socket=${path}`;
    const c = await LibvirtClient.connect(uri);
    assert.equal((await c.call("connectGetUri")).uri, "test:///default");
    armed = true;
    const { ms, result } = await timed(c.call("connectListAllDomains", { need_results: 1, flags: 0 }));
    assert.ok(result instanceof LibvirtConnectionError, String(result));
    assert.ok(ms < 1000, `took ${ms} ms`);
    armed = false;
    const again = await LibvirtClient.connect(uri);
    assert.ok((await again.call("connectListAllDomains", { need_results: 1, flags: 0 })).domains.some((d) => d.name === "test"));
    await again.close();
  });

  it("bounds the handshake when a daemon accepts but never answers", async () => {
    const path = sockPath();
    const mute = createServer((sock) => sock.on("error", () => undefined));
    servers.push(mute);
    await new Promise<void>((r) => mute.listen(path, () => r()));
    const { ms, result } = await timed(LibvirtClient.connect(`qemu:///system?socket=${path}`, { connectTimeoutMs: 300 }));
    assert.ok(result instanceof LibvirtTimeoutError && /authList/.test(result.message), String(result));
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it("fails fast with a clear error when nothing listens", async () => {
    await assert.rejects(LibvirtClient.connect(`qemu:///system?socket=${join(dir, "absent.sock")}`), /cannot connect to libvirt socket .*absent\.sock/);
  });
});
