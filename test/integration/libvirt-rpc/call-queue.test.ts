// The per-connection call queue: libvirtd serves at most max_client_requests
// (5 by default) calls of one client at once and silently stops reading the
// socket beyond that, so the client keeps at most 4 ordinary calls on the
// wire, starts each deadline when the call is sent, and lets urgent calls
// (job abort) past the queue. Timing faults come from the scripted fake
// daemon; the concurrency figure from the real libvirtd.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { LibvirtClient, LibvirtTimeoutError } from "../../../provider/drivers/libvirt/rpc";
import type { Frame } from "../../../provider/drivers/libvirt/rpc/packet";
import { fakeDaemon, hostnameReply, reply, type Behaviour } from "./fake-daemon";
import { useLibvirtTestbed } from "./testbed";

const PROC_HOSTNAME = 59;
const PROC_ABORT_JOB = 164;
const DOM = { name: "busy", uuid: "07070707-0707-0707-0707-070707070707", id: 1 };

const copy = (f: Frame): Frame => ({ header: { ...f.header }, payload: Buffer.from(f.payload) });

describe("libvirt RPC: call queue", function () {
  this.timeout(60_000);
  useLibvirtTestbed();
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-queue-"));
  const servers: Server[] = [];
  let n = 0;

  async function withFake(behaviour: Behaviour, callTimeoutMs = 120_000): Promise<LibvirtClient> {
    const path = join(dir, `q${n++}.sock`);
    servers.push(await fakeDaemon(path, behaviour));
    return LibvirtClient.connect(`test+unix:///default?socket=${path}`, { keepalive: false, callTimeoutMs });
  }

  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps at most 4 calls on the wire and starts each deadline when the call is sent", async () => {
    let onWire = 0;
    let peakOnWire = 0;
    const c = await withFake((sock, f) => {
      onWire++;
      peakOnWire = Math.max(peakOnWire, onWire);
      const held = copy(f);
      setTimeout(() => {
        onWire--;
        hostnameReply(sock, held, `h${held.header.serial}`);
      }, 150);
    }, 400);
    // 20 calls in waves of 4 take ~750 ms: longer than the 400 ms deadline,
    // which therefore must not run while a call waits in the queue.
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => c.call("connectGetHostname")));
    const failed = results.filter((r) => r.status === "rejected");
    assert.equal(failed.length, 0, String((failed[0] as PromiseRejectedResult | undefined)?.reason));
    assert.equal(peakOnWire, 4);
    assert.equal(c.conn.peakCallsInFlight, 4);
    await c.close();
  });

  it("lets a job abort past a full queue", async () => {
    let hostnameCalls = 0;
    const c = await withFake((sock, f) => {
      if (f.header.proc === PROC_HOSTNAME)
        hostnameCalls++; // held forever, like a long job
      else if (f.header.proc === PROC_ABORT_JOB) reply(sock, f);
    });
    const stuck = Array.from({ length: 6 }, () => c.call("connectGetHostname", undefined, { timeoutMs: 0 }).catch((e: Error) => e));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hostnameCalls, 4);
    assert.equal(c.conn.queued, 2);
    const t0 = Date.now();
    await c.call("domainAbortJob", { dom: DOM });
    assert.ok(Date.now() - t0 < 1000);
    await c.close();
    for (const e of await Promise.all(stuck)) assert.ok(e instanceof Error && /closed by client/.test(e.message), String(e));
  });

  it("keeps a timed-out call's slot until libvirtd answers it, then sends the next", async () => {
    const held: Frame[] = [];
    let server: Duplex | undefined;
    const c = await withFake((sock, f) => {
      server = sock;
      if (held.length < 4) held.push(copy(f));
      else hostnameReply(sock, f, "fifth");
    });
    const early = await Promise.all(Array.from({ length: 4 }, () => c.call("connectGetHostname", undefined, { timeoutMs: 100 }).catch((e: Error) => e)));
    for (const e of early) assert.ok(e instanceof LibvirtTimeoutError, String(e));
    // libvirtd would still be working on those four: a fifth must wait.
    let fifthDone = false;
    const fifth = c.call("connectGetHostname", undefined, { timeoutMs: 5000 }).then((r) => {
      fifthDone = true;
      return r.hostname;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fifthDone, false);
    assert.equal(c.conn.queued, 1);
    hostnameReply(server as Duplex, held[0] as Frame, "late"); // a late answer frees one slot
    assert.equal(await fifth, "fifth");
    await c.close();
  });

  it("runs 40 concurrent calls against the real libvirtd with zero errors and never more than 4 in flight", async () => {
    const c = await LibvirtClient.connect("qemu:///system");
    try {
      const calls = Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? c.call("connectGetCapabilities").then((r) => r.capabilities.length) : c.call("connectListAllDomains", { need_results: 1, flags: 0 }).then((r) => r.ret + 1),
      );
      assert.equal(c.conn.queued, 36);
      const results = await Promise.allSettled(calls);
      const failed = results.filter((r) => r.status === "rejected");
      assert.equal(failed.length, 0, String((failed[0] as PromiseRejectedResult | undefined)?.reason));
      for (const r of results) assert.ok((r as PromiseFulfilledResult<number>).value > 0);
      assert.equal(c.conn.peakCallsInFlight, 4);
      assert.equal(c.conn.queued, 0);
    } finally {
      await c.close();
    }
  });
});
