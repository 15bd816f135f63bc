import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ChunkDigest, guestDigest } from "../../../provider/core/disk-image";
import { moveDisk } from "../../../provider/core/disk-move";
import { qcow2RangedView } from "../../../provider/core/qcow2-ranges";
import type { DiskLocation, DiskTransfer } from "../../../provider/core/disk-transfer";
import type { Driver, OperationContext } from "../../../provider/core/driver";
import type { HostConfig } from "../../../provider/core/hosts";
import { RESOURCE_MODELS, type SpecOf } from "../../../provider/core/model";
import { openDriver } from "../../../provider/drivers/registry";
import { closeAllSessions, connect, getProperties, lookup } from "../../../provider/drivers/vsphere/soap";
import { buildMover, runMover } from "../../support/mover";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";
import { DATACENTER, vcsim } from "../vsphere/testbed";
import { breakingStream, makePatternDisk, scatteredRuns } from "./fixtures";

const URI = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";

/** The real qemu-img's verdict: the vmdk (descriptor + extent) and the raw file hold the same guest bytes. */
function sameAsSource(vmdk: string, raw: string): boolean {
  try {
    execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", vmdk, raw]);
    return true;
  } catch {
    return false;
  }
}
const DATASTORE = "LocalDS_0";
const MiB = 1048576;

/**
 * The disk data paths of a cross-hypervisor move against the real libvirtd and vcsim: bytes
 * leave libvirt through volume download streams, land in vcsim's datastore directory as
 * descriptor + flat file over HTTPS, come back, and land in libvirt again; the guest-visible
 * digest is compared with the source's at every step, on the files themselves.
 */
describe("cross-move data paths: libvirt volume streams ↔ vSphere datastore files", function () {
  this.timeout(600_000);
  const prefix = uniquePrefix("xmd");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const poolName = `${prefix}-pool`;
  const domName = `${prefix}-vm`;
  const size = 64 * MiB;
  let hosts: Record<string, HostConfig>;
  let kvm: Driver;
  let vc: Driver;
  let libvirt: DiskTransfer;
  let vsphere: DiskTransfer;
  let dsRoot: string;
  let expected: string;
  const vcsimVms: string[] = [];
  const ctx: OperationContext = { progress: () => undefined, deadline: Date.now() + 600_000, connect: async () => vc };

  before(async function () {
    this.timeout(900_000);
    testbed("libvirt.sh");
    buildMover();
    const sim = vcsim();
    mkdirSync(poolDir, { recursive: true });
    virsh(URI, "pool-create-as", poolName, "dir", "--target", poolDir);
    // Source disks: the same pattern as raw and as qcow2, in the pool, attached to a stopped domain.
    makePatternDisk(join(poolDir, "src-raw.img"), size, scatteredRuns(size), prefix);
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", join(poolDir, "src-raw.img"), join(poolDir, "src.qcow2")]);
    virsh(URI, "pool-refresh", poolName);
    expected = (await guestDigest(join(poolDir, "src-raw.img"), "raw")).sha256;
    const disk = (dev: string, file: string, type: string) =>
      `<disk type='file' device='disk'><driver name='qemu' type='${type}'/><source file='${join(poolDir, file)}'/><target dev='${dev}' bus='virtio'/></disk>`;
    const xmlPath = join(poolDir, "domain.xml");
    require("node:fs").writeFileSync(
      xmlPath,
      `<domain type='qemu'><name>${domName}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${disk("vda", "src.qcow2", "qcow2")}${disk("vdb", "src-raw.img", "raw")}</devices></domain>`,
    );
    virsh(URI, "define", xmlPath);
    hosts = {
      kvm: { driver: "libvirt", uri: URI },
      vc: { driver: "vsphere", url: sim.url, username: sim.username, password: sim.password, datacenter: DATACENTER, cluster: "DC0_C0", caFile: sim.caFile, datastore: DATASTORE },
    } as unknown as Record<string, HostConfig>;
    kvm = await openDriver("kvm", hosts.kvm as HostConfig);
    vc = await openDriver("vc", hosts.vc as HostConfig);
    libvirt = kvm.diskTransfer!();
    vsphere = vc.diskTransfer!();
    const client = await connect(sim.options);
    const ds = await lookup(client, "datastore", DATASTORE, DATACENTER);
    dsRoot = ((await getProperties(client, ds, ["summary.url"])).props.get("summary.url")?.text ?? "").replace(/^ds:\/\//, "");
  });

  after(async () => {
    for (const id of vcsimVms)
      await vc
        ?.resource("VirtualMachine")
        ?.delete(id, {} as never, ctx)
        .catch((e) => console.error(`cleanup vm ${id}: ${e}`));
    virshMaybe(URI, "undefine", domName);
    virshMaybe(URI, "pool-destroy", poolName);
    rmSync(poolDir, { recursive: true, force: true });
    if (dsRoot) rmSync(join(dsRoot, prefix), { recursive: true, force: true });
    await kvm?.close();
    await closeAllSessions();
  });

  const domainUuid = () => virsh(URI, "domuuid", domName).trim();

  it("lists a stopped domain's disks with slot, volume key, format and size", async () => {
    const disks = await libvirt.listDisks(domainUuid());
    assert.deepEqual(
      disks.map((d) => [d.slot, d.address, d.format, d.virtualSize]),
      [
        ["vda", join(poolDir, "src.qcow2"), "qcow2", size],
        ["vdb", join(poolDir, "src-raw.img"), "raw", size],
      ],
    );
  });

  it("qcow2 and raw disks go libvirt → vSphere → libvirt with the source's guest digest at every step", async () => {
    const disks = await libvirt.listDisks(domainUuid());
    for (const disk of disks) {
      const name = `${prefix}/${disk.slot}.vmdk`;
      const lines: string[] = [];
      // A work directory that does not exist: any local copy would fail its free-space check.
      // The qcow2 is read by ranges (this host's libvirtd runs here: from its file) and the raw disk streams through, so none is made.
      const workDir = join(poolDir, "no-such-dir");
      const there = await moveDisk(libvirt, disk, vsphere, { pool: DATASTORE, name }, { progress: (l) => lines.push(l), workDir });
      if (disk.format === "qcow2")
        assert.ok(
          lines.some((l) => /in guest order from the volume file .*src\.qcow2 on this machine, no local copy/.test(l)),
          lines.join("\n"),
        );
      assert.equal(there.sha256, expected, `${disk.slot} as sent`);
      assert.equal(there.location.address, `[${DATASTORE}] ${name}`);
      // On vcsim's datastore directory: a descriptor the real qemu-img reads, and the flat file.
      const descriptor = join(dsRoot, name);
      assert.match(readFileSync(descriptor, "utf8"), /createType="vmfs"/);
      assert.deepEqual(
        readdirSync(join(dsRoot, prefix))
          .filter((f) => f.startsWith(disk.slot))
          .sort(),
        [`${disk.slot}-flat.vmdk`, `${disk.slot}.vmdk`],
      );
      assert.equal((await guestDigest(join(dsRoot, prefix, `${disk.slot}-flat.vmdk`), "raw")).sha256, expected, `${disk.slot} in vcsim's datastore`);
      assert.equal(sameAsSource(descriptor, join(poolDir, "src-raw.img")), true, "qemu-img reads the descriptor + flat pair as the source disk");
      assert.ok(
        lines.some((l) => /upload: \d+ of 64 MiB, [\d.]+ MiB\/s/.test(l)),
        lines.join("\n"),
      );

      // A VM on vSphere with that disk attached: its disk list is what the way back starts from.
      const spec = RESOURCE_MODELS.VirtualMachine.schema.parse({
        host: "vc",
        name: `${prefix}-${disk.slot}`,
        cpu: { cores: 1 },
        memory: { sizeMiB: 64 },
        disks: { sda: { volume: there.location.address } },
        powerState: "stopped",
      }) as SpecOf<"VirtualMachine">;
      const vm = await vc.resource("VirtualMachine")!.create(spec, ctx);
      vcsimVms.push(vm.id);
      const [onVsphere] = await vsphere.listDisks(vm.id);
      assert.deepEqual(onVsphere, { slot: "sda", address: there.location.address, format: "raw", virtualSize: size });

      const back = await moveDisk(
        vsphere,
        onVsphere as DiskLocation,
        libvirt,
        { pool: poolName, name: `${disk.slot}-back.qcow2` },
        { progress: () => undefined, verifyTarget: true },
      );
      assert.equal(back.sha256, expected);
      assert.equal(back.location.format, "qcow2");
      const path = join(poolDir, `${disk.slot}-back.qcow2`);
      assert.equal(back.location.address, path);
      assert.match(virsh(URI, "vol-dumpxml", "--pool", poolName, `${disk.slot}-back.qcow2`), /<format type='qcow2'\/>/);
      assert.equal((await guestDigest(path, "qcow2")).sha256, expected, `${disk.slot} back in libvirt`);
    }
  });

  it("a qcow2 is read from its own file when libvirtd runs here, and by libvirt's ranged downloads when it is reached over TCP: the same guest bytes", async () => {
    testbed("libvirt-peer.sh");
    // The peer daemon has its own /var/lib/libvirt but shares /var/lib/novacron-test: a pool of it over a copy of the source.
    const peerDir = `${poolDir}-peer`;
    const peerPool = `${prefix}-peer-pool`;
    mkdirSync(peerDir, { recursive: true });
    execFileSync("cp", ["--sparse=always", join(poolDir, "src.qcow2"), join(peerDir, "src.qcow2")]);
    virsh(PEER, "pool-create-as", peerPool, "dir", "--target", peerDir);
    const peer = await openDriver("peer", { driver: "libvirt", uri: PEER } as unknown as HostConfig);
    try {
      const sides: [DiskTransfer, string, RegExp][] = [
        [libvirt, poolDir, /^the volume file .*src\.qcow2 on this machine$/],
        [peer.diskTransfer!(), peerDir, /^libvirt volume downloads from host "peer"$/],
      ];
      for (const [transfer, dir, via] of sides) {
        const reader = await transfer.openRanges!({ slot: "vda", address: join(dir, "src.qcow2"), format: "qcow2", virtualSize: size });
        try {
          assert.match(reader.via, via);
          const view = await qcow2RangedView(reader, size);
          assert.notEqual(typeof view, "string", String(view));
          const digest = new ChunkDigest();
          for await (const piece of view as AsyncGenerator<Buffer>) digest.update(piece);
          assert.equal(digest.finish(), expected, reader.via);
        } finally {
          await reader.close();
        }
      }
    } finally {
      await peer.close();
      virshMaybe(PEER, "pool-destroy", peerPool);
      rmSync(peerDir, { recursive: true, force: true });
    }
  });

  it("raw to raw streams straight through, and into libvirt as a raw volume", async () => {
    const [, raw] = await libvirt.listDisks(domainUuid());
    const moved = await moveDisk(libvirt, raw as DiskLocation, libvirt, { pool: poolName, name: "copy.raw" }, { progress: () => undefined, targetFormat: "raw" });
    assert.equal(moved.sha256, expected);
    assert.equal((await guestDigest(join(poolDir, "copy.raw"), "raw")).sha256, expected);
  });

  it("a cut upload leaves no file on the datastore and no volume in the pool", async () => {
    const name = `${prefix}/cut.vmdk`;
    await assert.rejects(
      vsphere.importDisk({ pool: DATASTORE, name, format: "raw", size: 16 * MiB }, breakingStream(16 * MiB, 5 * MiB)),
      /cut by the test|aborted|other side closed/i,
    );
    assert.deepEqual(
      readdirSync(join(dsRoot, prefix)).filter((f) => f.startsWith("cut")),
      [],
    );
    await assert.rejects(libvirt.importDisk({ pool: poolName, name: "cut.qcow2", format: "qcow2", size: 16 * MiB }, breakingStream(16 * MiB, 5 * MiB)), /cut by the test/);
    virsh(URI, "pool-refresh", poolName);
    assert.doesNotMatch(virsh(URI, "vol-list", poolName), /cut\.qcow2/);
    assert.equal(existsSync(join(poolDir, "cut.qcow2")), false);
  });

  it("an upload that ends short is refused by both targets and leaves nothing", async () => {
    const short = () => breakingStream(3 * MiB, Number.POSITIVE_INFINITY);
    await assert.rejects(vsphere.importDisk({ pool: DATASTORE, name: `${prefix}/short.vmdk`, format: "raw", size: 8 * MiB }, short()));
    assert.deepEqual(
      readdirSync(join(dsRoot, prefix)).filter((f) => f.startsWith("short")),
      [],
    );
    await assert.rejects(libvirt.importDisk({ pool: poolName, name: "short.raw", format: "raw", size: 8 * MiB }, short()), /sent 3145728 bytes, expected 8388608/);
    assert.equal(existsSync(join(poolDir, "short.raw")), false);
  });

  it("a disk vcsim created itself holds no bytes: its export is refused by name, not faked", async () => {
    const spec = RESOURCE_MODELS.VirtualMachine.schema.parse({
      host: "vc",
      name: `${prefix}-blank`,
      cpu: { cores: 1 },
      memory: { sizeMiB: 64 },
      disks: { sda: { pool: DATASTORE, sizeGiB: 1 } },
      powerState: "stopped",
    }) as SpecOf<"VirtualMachine">;
    const vm = await vc.resource("VirtualMachine")!.create(spec, ctx);
    vcsimVms.push(vm.id);
    const [blank] = await vsphere.listDisks(vm.id);
    assert.equal(blank?.virtualSize, 1024 * MiB);
    await assert.rejects(vsphere.exportDisk(blank as DiskLocation), /is empty, so the disk has no contents to move \(vcsim creates disks as empty placeholder files\)/);
  });

  it("a 1 GiB disk with 512 MiB written moves libvirt → vSphere with the mover's RSS growing far less than the disk", async () => {
    const big = join(poolDir, "big.qcow2");
    const raw = join(poolDir, "big.tmp");
    const runs = Array.from({ length: 32 }, (_, i) => ({ offset: i * 32 * MiB + 4096, length: 16 * MiB }));
    makePatternDisk(raw, 1024 * MiB, runs, `${prefix}-big`);
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, big]);
    const want = (await guestDigest(raw, "raw")).sha256;
    rmSync(raw);
    virsh(URI, "pool-refresh", poolName);
    const disk: DiskLocation = { slot: "vdc", address: big, format: "qcow2", virtualSize: 1024 * MiB };
    const job = { hosts, from: "kvm", to: "vc", disk, target: { pool: DATASTORE, name: `${prefix}/big.vmdk` }, options: {} };
    const result = await runMover(job);
    assert.equal(result.moved.sha256, want);
    assert.equal((await guestDigest(join(dsRoot, prefix, "big-flat.vmdk"), "raw")).sha256, want);
    const growthMiB = (result.peakRssKiB - result.rssBeforeKiB) / 1024;
    const peakMiB = result.peakRssKiB / 1024;
    console.log(`      mover peak RSS ${peakMiB.toFixed(0)} MiB, growth during the move ${growthMiB.toFixed(0)} MiB for a 1024 MiB disk`);
    assert.ok(growthMiB < 160, `RSS grew by ${growthMiB.toFixed(0)} MiB while moving a 1 GiB disk with 512 MiB of data`);
    assert.ok(peakMiB < 200, `the moving process peaked at ${peakMiB.toFixed(0)} MiB RSS`);
  });
});
