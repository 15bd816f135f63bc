import assert from "node:assert/strict";
import { migrateLive } from "../../../provider/drivers/libvirt/migration";
import { LibvirtClient, type DomainRef } from "../../../provider/drivers/libvirt/rpc";
import { testbed, virsh, virshMaybe } from "../../support/testbeds";
import { dirtyRate, eventually, removeMigratedGuest, startTestGuest, URI, type TestGuest } from "../libvirt-metrics/guest";

const PEER = "qemu+tcp://10.213.0.2/system";
const DIRTY_MIB = 256;

/**
 * A guest that keeps rewriting DIRTY_MIB of its memory (novacron.dirty, test/testbeds/guest/dirty.c)
 * migrates live with the strategy migrateLive chooses, and runs on the peer; a deadline too short for the copy aborts the job and leaves it running on the source.
 */
describe("busy-guest live migration", function () {
  this.timeout(180_000);
  let guest: TestGuest;
  let source: LibvirtClient;
  let peer: LibvirtClient;
  let dom: DomainRef;

  before(async () => {
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    guest = await startTestGuest("mbz", { memoryMiB: 512, cmdline: `console=ttyS0 novacron.dirty=${DIRTY_MIB}` });
    source = await guest.driver.session.get();
    peer = await LibvirtClient.connect(PEER);
    dom = (await source.call("domainLookupByUuid", { uuid: guest.uuid })).dom;
    // Busy before anything moves: the workload has started and QEMU sees it dirtying memory.
    await eventually(
      () => dirtyRate(URI, guest.name),
      (mbs) => mbs >= 20,
      90_000,
      "the guest dirtying memory",
    );
  });

  after(() => removeMigratedGuest(guest, PEER, peer));

  it("is aborted at the deadline and keeps running on the source", async () => {
    const started = Date.now();
    const error = await migrateLive(source, dom, {
      destinationUri: PEER,
      migrateUri: "tcp://10.213.0.2",
      destination: peer,
      maxDowntimeMs: 200,
      // 4 MiB/s against a guest dirtying tens of MiB/s: this copy can never finish.
      bandwidthMiBs: 4,
      deadline: started + 5000,
      progress: () => undefined,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error, "the migration did not finish");
    assert.match(error.message, /did not finish by the deadline and was aborted .*guest dirtying up to \d+ MiB\/s, vCPU throttle \d+ %\); the VM still runs on the source/);
    assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);
    await eventually(
      async () => virsh(URI, "domstate", guest.name).trim(),
      (s) => s === "running",
      30_000,
      "running on the source",
    );
    await eventually(
      async () => virshMaybe(PEER, "domstate", guest.name),
      (s) => s === undefined,
      30_000,
      "nothing left on the peer",
    );
    // Cancelled, or no job at all once libvirt has cleaned up (seen once the testbed reaped
    // QEMU promptly) — never BOUNDED/UNBOUNDED (1/2), which a running job would be.
    const job = await source.call("domainGetJobStats", { dom, flags: 0 });
    assert.ok(job.type === 5 || job.type === 0, `virDomainJobType ${job.type}: expected CANCELLED (5) or NONE (0)`);
    // Not asserted: QEMU's dirty-rate sample right after the abort read 0 MB/s in one of three runs.
  });

  it("migrates live with the chosen strategy, reports each choice, and runs on the peer", async () => {
    const lines: string[] = [];
    const result = await migrateLive(source, dom, {
      destinationUri: PEER,
      migrateUri: "tcp://10.213.0.2",
      destination: peer,
      maxDowntimeMs: 200,
      deadline: Date.now() + 120_000,
      progress: (line) => lines.push(line),
    });
    const choices = result.choices.join("\n");
    assert.match(choices, /^bandwidth: unlimited/m);
    assert.match(choices, /^auto-converge: on \(vCPU throttle from 30 %/m);
    assert.match(choices, /^compression: none/m);
    assert.match(choices, /^post-copy: not used/m);
    assert.match(choices, /^downtime cap: 50 → 100 → 200 ms/m);
    // A guest rewriting its memory needs more than one pass.
    assert.ok((result.iterations ?? 0) >= 2, `iterations ${result.iterations}: ${JSON.stringify(lines)}`);
    assert.ok(result.bytesMoved > 0, `moved ${result.bytesMoved} bytes`);
    assert.ok(result.downtimeMs > 0 && result.downtimeMs < 1000, `downtime ${result.downtimeMs} ms`);
    // Live, not restarted: libvirt's own reason for the state on the peer, and the workload
    // (started once by init at boot) still dirtying memory there.
    assert.match(virsh(PEER, "domstate", guest.name, "--reason"), /running \(migrated\)/);
    assert.equal(virshMaybe(URI, "domstate", guest.name), undefined, "gone from the source");
    // Not asserted yet: QEMU's dirty-rate sampling on the peer read 0 MB/s after the move (open
    // question: whether the workload stalls there or page-sampling misses it on an incoming VM).
  });
});

/**
 * The same workload with post-copy allowed: a cap too tight for what the guest rewrites per
 * pass makes the driver switch at the end of pass 2 instead of relaxing the cap. A guest of its own, moving away from
 * the source: a guest that has just arrived by migration was seen not dirtying (see above).
 */
describe("busy-guest live migration with post-copy allowed", function () {
  this.timeout(180_000);
  let guest: TestGuest;
  let source: LibvirtClient;
  let peer: LibvirtClient;

  before(async () => {
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    guest = await startTestGuest("mbp", { memoryMiB: 512, cmdline: `console=ttyS0 novacron.dirty=${DIRTY_MIB}` });
    source = await guest.driver.session.get();
    peer = await LibvirtClient.connect(PEER);
    // Three samples in a row: the first ones can come from the workload populating its set
    // (zero pages, cheap to move), not from it rewriting the set.
    for (let busy = 0; busy < 3; ) {
      busy = (await dirtyRate(URI, guest.name)) >= 20 ? busy + 1 : 0;
    }
  });

  after(() => removeMigratedGuest(guest, PEER, peer));

  it("switches to post-copy when a pass from the 2nd on has not converged, and runs on the peer", async () => {
    const dom = (await source.call("domainLookupByUuid", { uuid: guest.uuid })).dom;
    const lines: string[] = [];
    const result = await migrateLive(source, dom, {
      destinationUri: PEER,
      migrateUri: "tcp://10.213.0.2",
      destination: peer,
      // At 64 MiB/s the first pass takes ~4 s, in which the guest rewrites its whole 256 MiB
      // set; a 50 ms cap holds 3.2 MiB, so pre-copy cannot converge before the throttle bites.
      maxDowntimeMs: 50,
      bandwidthMiBs: 64,
      allowPostCopy: true,
      deadline: Date.now() + 120_000,
      progress: (line) => lines.push(line),
    });
    const choices = result.choices.join("\n");
    assert.match(choices, /^post-copy: allowed \(updatePolicy.allowPostCopy\)/m);
    assert.match(choices, /^post-copy: switched after pass \d+ \(pass \d+ did not converge: the guest rewrites memory faster than it is copied\)/m, JSON.stringify(lines));
    assert.ok((result.postCopyAfterPass ?? 0) >= 2, `switched after pass ${result.postCopyAfterPass}`);
    // Figures from libvirt's job-completed event: after post-copy no host keeps them.
    assert.ok(result.bytesMoved >= DIRTY_MIB * 2 ** 20, `moved ${result.bytesMoved} bytes`);
    assert.ok(
      lines.some((l) => /switching to post-copy/.test(l)),
      JSON.stringify(lines),
    );
    assert.ok(result.downtimeMs > 0 && result.downtimeMs < 1000, `downtime ${result.downtimeMs} ms`);
    assert.match(virsh(PEER, "domstate", guest.name), /^running/);
    assert.equal(virshMaybe(URI, "domstate", guest.name), undefined, "gone from the source");
  });
});
