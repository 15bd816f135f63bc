import assert from "node:assert/strict";
import { migrateLive } from "../../../provider/drivers/libvirt/migration";
import { LibvirtClient, type DomainRef } from "../../../provider/drivers/libvirt/rpc";
import { testbed, virsh, virshMaybe } from "../../support/testbeds";
import { eventually, startTestGuest, URI, type TestGuest } from "../libvirt-metrics/guest";

const PEER = "qemu+tcp://10.213.0.2/system";

/**
 * Dynamic providers get no cancel and no customTimeouts from Pulumi, so the deadline is ours: a
 * migration that cannot finish in time must be stopped in libvirtd, not merely abandoned by
 * our client, and the guest must keep running on the source.
 */
describe("live migration past its deadline", function () {
  this.timeout(300_000);
  let guest: TestGuest;
  let source: LibvirtClient;
  let peer: LibvirtClient;
  let dom: DomainRef;

  before(async () => {
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    guest = await startTestGuest("mdl", { memoryMiB: 192 });
    source = await guest.driver.session.get();
    peer = await LibvirtClient.connect(PEER);
    dom = (await source.call("domainLookupByUuid", { uuid: guest.uuid })).dom;
  });

  after(async () => {
    if (guest) {
      virshMaybe(PEER, "destroy", guest.name);
      virshMaybe(PEER, "undefine", guest.name);
    }
    await peer?.close();
    await guest?.destroy();
  });

  it("is aborted in libvirtd at the deadline; the guest keeps running on the source", async () => {
    // Let the guest boot: its kernel and initramfs are tens of MiB that must cross the wire.
    await new Promise((r) => setTimeout(r, 5000));
    const lines: string[] = [];
    const started = Date.now();
    const error = await migrateLive(source, dom, {
      destinationUri: PEER,
      migrateUri: "tcp://10.213.0.2",
      destination: peer,
      // 1 MiB/s: tens of seconds of copying, far past the deadline.
      bandwidthMiBs: 1,
      deadline: started + 4000,
      progress: (line) => lines.push(line),
    }).then(() => undefined, (e: unknown) => e);
    const tookMs = Date.now() - started;
    assert.ok(error instanceof Error, "the migration did not finish");
    assert.match(error.message, /did not finish by the deadline and was aborted/);
    assert.ok(tookMs >= 3500 && tookMs < 15_000, `gave up after ${tookMs} ms`);
    assert.ok(lines.some((l) => /migrating: \d+ MiB of memory left/.test(l)), `progress was reported: ${JSON.stringify(lines)}`);
    // libvirt cleans up both ends once QEMU reports the cancellation.
    await eventually(async () => virsh(URI, "domstate", guest.name).trim(), (s) => s === "running", 30_000, "guest running again on the source");
    await eventually(async () => virshMaybe(PEER, "domstate", guest.name), (s) => s === undefined, 30_000, "nothing left on the peer");
    // Aborted, not still copying in the background: libvirt reports the domain's job as
    // cancelled (not BOUNDED/UNBOUNDED, which a running job would be).
    const job = await source.call("domainGetJobStats", { dom, flags: 0 });
    assert.equal(job.type, 5, "virDomainJobType CANCELLED");
  });
});
