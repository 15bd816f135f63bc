import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { closeAllDrivers } from "../../../provider/drivers/registry";
import * as runtime from "../../support/engine-runtime";
import type { ResourceKind } from "../../../provider/core/model";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";
import { useHosts } from "../../support/hosts";

const URI = "qemu:///system";
type Props = Record<string, unknown>;

/**
 * NovaCron touches only what carries its mark (issue 14): objects an administrator made on the
 * real libvirtd — a pool, a volume, a network, a snapshot, a volume named like a VM's blank
 * disk — are refused without `adopt: true`, and survive `destroy` when adopted. Our own
 * objects carry the mark and are recognised by it after an interrupted create.
 */
describe("libvirt ownership marks (qemu:///system)", function () {
  this.timeout(180_000);
  const prefix = uniquePrefix("safe");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const pool = `${prefix}-admin-pool`;
  const netName = `${prefix}-admin-net`;
  const legacyVm = `${prefix}-legacy`;
  const cleanups: (() => void)[] = [];

  before(async () => {
    testbed("libvirt.sh");
    await useHosts({ kvm: { driver: "libvirt", uri: URI } });
    mkdirSync(poolDir, { recursive: true });
    // The administrator's own objects, made with virsh, never by NovaCron.
    virsh(URI, "pool-define-as", pool, "dir", "--target", poolDir);
    virsh(URI, "pool-start", pool);
    cleanups.push(() => {
      virshMaybe(URI, "pool-destroy", pool);
      virshMaybe(URI, "pool-undefine", pool);
    });
    virsh(URI, "vol-create-as", pool, "golden-base.qcow2", "16M", "--format", "qcow2");
    virsh(URI, "vol-create-as", pool, "legacy-root.qcow2", "16M", "--format", "qcow2");
    const subnet = `10.232.${20 + (process.pid % 200)}`;
    const netXml = `${poolDir}.net.xml`;
    writeFileSync(netXml, `<network><name>${netName}</name><ip address='${subnet}.1' netmask='255.255.255.0'/></network>`);
    virsh(URI, "net-define", netXml);
    cleanups.push(() => {
      virshMaybe(URI, "net-destroy", netName);
      virshMaybe(URI, "net-undefine", netName);
      rmSync(netXml, { force: true });
    });
    const domXml = `${poolDir}.dom.xml`;
    writeFileSync(
      domXml,
      `<domain type='qemu'><name>${legacyVm}</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>` +
        `<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${poolDir}/legacy-root.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    virsh(URI, "define", domXml);
    cleanups.push(() => {
      virshMaybe(URI, "undefine", legacyVm, "--snapshots-metadata");
      rmSync(domXml, { force: true });
    });
    virsh(URI, "snapshot-create-as", legacyVm, "keep-me", "the admin's own");
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) cleanup();
    await closeAllDrivers();
    rmSync(poolDir, { recursive: true, force: true });
    delete process.env.NOVACRON_HOSTS;
  });

  async function checked(kind: ResourceKind, news: Props): Promise<Props> {
    const result = await runtime.check(kind, {}, news);
    assert.deepEqual(result.failures, [], JSON.stringify(result.failures));
    return result.inputs as Props;
  }

  async function refused(kind: ResourceKind, news: Props, names: RegExp): Promise<void> {
    await assert.rejects(runtime.create(kind, await checked(kind, news)), (error: Error) => {
      assert.match(error.message, names);
      assert.match(error.message, /no NovaCron ownership mark/);
      assert.match(error.message, /adopt: true/);
      return true;
    });
  }

  /** create then destroy with adopt: true; the object must still be there afterwards. */
  async function adoptAndDestroy(kind: ResourceKind, news: Props): Promise<{ id: string; outs: Props }> {
    const made = await runtime.create(kind, await checked(kind, { ...news, adopt: true }));
    await runtime.remove(kind, made.id!, made.outs as Props);
    return { id: made.id!, outs: made.outs as Props };
  }

  it("a Volume named like the administrator's is refused, and an adopted one survives destroy", async () => {
    const spec = { host: "kvm", pool, name: "golden-base.qcow2", sizeGiB: 1 };
    await refused("Volume", spec, /Volume "golden-base\.qcow2" in pool/);
    await adoptAndDestroy("Volume", spec);
    assert.match(virsh(URI, "vol-list", pool), /golden-base\.qcow2/);
  });

  it("an adopted Volume with deleteOnDestroy: true is deleted on destroy", async () => {
    virsh(URI, "vol-create-as", pool, "scratch.qcow2", "16M", "--format", "qcow2");
    const made = await runtime.create("Volume", await checked("Volume", { host: "kvm", pool, name: "scratch.qcow2", sizeGiB: 1, adopt: true, deleteOnDestroy: true }));
    await runtime.remove("Volume", made.id!, made.outs as Props);
    assert.doesNotMatch(virsh(URI, "vol-list", pool), /scratch\.qcow2/);
  });

  it("a StoragePool matching an existing one is refused, and an adopted one stays defined after destroy", async () => {
    const spec = { host: "kvm", name: pool, kind: "dir", path: poolDir };
    await refused("StoragePool", spec, new RegExp(`StoragePool "${pool}"`));
    await adoptAndDestroy("StoragePool", spec);
    assert.match(virsh(URI, "pool-info", pool), /State:\s+running/);
  });

  it("a Network NovaCron did not make is refused; adopted it is managed without our mark and survives destroy", async () => {
    const subnet = `10.232.${20 + (process.pid % 200)}`;
    const spec = { host: "kvm", name: netName, mode: "isolated", cidr: `${subnet}.0/24`, autostart: false };
    await refused("Network", spec, new RegExp(`Network "${netName}"`));
    const made = await runtime.create("Network", await checked("Network", { ...spec, adopt: true, labels: { team: "ops" } }));
    const xml = virsh(URI, "net-dumpxml", netName);
    assert.match(xml, /managed-by="novacron-adopted"|managed-by='novacron-adopted'/);
    assert.match(xml, /key=["']team["']/);
    await runtime.remove("Network", made.id!, made.outs as Props);
    assert.match(virsh(URI, "net-info", netName), new RegExp(netName));
    // Adopted once is not ours: a second create without adopt is refused again.
    await refused("Network", spec, new RegExp(`Network "${netName}"`));
  });

  it("the administrator's Snapshot is refused, and adopted it survives destroy", async () => {
    const spec = { host: "kvm", vm: legacyVm, name: "keep-me" };
    await refused("Snapshot", spec, /Snapshot "keep-me" of VM/);
    await adoptAndDestroy("Snapshot", spec);
    assert.match(virsh(URI, "snapshot-list", legacyVm, "--name"), /keep-me/);
  });

  it("our own Snapshot carries the mark: found again after an interrupted create, its description changes on the host, and destroy deletes it", async () => {
    const spec = await checked("Snapshot", { host: "kvm", vm: legacyVm, name: "ours", description: "first" });
    const made = await runtime.create("Snapshot", spec);
    const xml = virsh(URI, "snapshot-dumpxml", legacyVm, "ours");
    assert.match(xml, /https:\/\/novacron\.dev\/xmlns\/snapshot\/1/);
    // The live domain keeps no mark: the next snapshot someone takes is not ours.
    assert.doesNotMatch(virsh(URI, "dumpxml", legacyVm), /xmlns\/snapshot\/1/);
    // As if Pulumi never recorded the first create: the mark, not the name, makes it ours.
    const again = await runtime.create("Snapshot", spec);
    assert.equal(again.id, made.id);
    const next = await checked("Snapshot", { host: "kvm", vm: legacyVm, name: "ours", description: "second" });
    await runtime.update("Snapshot", made.id!, made.outs as Props, next);
    assert.match(virsh(URI, "snapshot-dumpxml", legacyVm, "ours"), /<description>second<\/description>/);
    assert.match(virsh(URI, "snapshot-dumpxml", legacyVm, "ours"), /xmlns\/snapshot\/1/);
    await runtime.remove("Snapshot", made.id!, { ...made.outs, description: "second" } as Props);
    assert.doesNotMatch(virsh(URI, "snapshot-list", legacyVm, "--name"), /^ours$/m);
  });

  it("a VM whose blank disk would be named like an existing volume is refused and the volume survives", async () => {
    const vmName = `${prefix}-web2`;
    virsh(URI, "vol-create-as", pool, `${vmName}-vdb.qcow2`, "16M", "--format", "qcow2");
    const before = execFileSync("sha256sum", [`${poolDir}/${vmName}-vdb.qcow2`], { encoding: "utf8" });
    const spec = await checked("VirtualMachine", {
      host: "kvm",
      name: vmName,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 64 },
      disks: { vdb: { pool, sizeGiB: 1 } },
      powerState: "stopped",
    });
    await assert.rejects(runtime.create("VirtualMachine", spec), /disks\.vdb: volume "nc\w+-web2-vdb\.qcow2" already exists in pool .* not part of this VM/);
    assert.equal(virshMaybe(URI, "dominfo", vmName), undefined);
    assert.equal(execFileSync("sha256sum", [`${poolDir}/${vmName}-vdb.qcow2`], { encoding: "utf8" }), before);
  });

  it("a VM's own blank disk goes with it on destroy", async () => {
    const vmName = `${prefix}-web3`;
    const spec = await checked("VirtualMachine", {
      host: "kvm",
      name: vmName,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 64 },
      disks: { vdb: { pool, sizeGiB: 1 } },
      powerState: "stopped",
    });
    const made = await runtime.create("VirtualMachine", spec);
    cleanups.push(() => void virshMaybe(URI, "undefine", vmName));
    assert.match(virsh(URI, "vol-list", pool), new RegExp(`${vmName}-vdb\\.qcow2`));
    await runtime.remove("VirtualMachine", made.id!, made.outs as Props);
    assert.doesNotMatch(virsh(URI, "vol-list", pool), new RegExp(`${vmName}-vdb\\.qcow2`));
  });

  it("delete leaves a network or snapshot that replaced ours outside NovaCron (same name, no mark)", async () => {
    const subnet = `10.234.${20 + (process.pid % 200)}`;
    const name = `${prefix}-swapped`;
    const net = await runtime.create("Network", await checked("Network", { host: "kvm", name, mode: "isolated", cidr: `${subnet}.0/24`, autostart: false }));
    cleanups.push(() => {
      virshMaybe(URI, "net-destroy", name);
      virshMaybe(URI, "net-undefine", name);
    });
    // An administrator removes ours and defines their own under the same name.
    virsh(URI, "net-destroy", name);
    virsh(URI, "net-undefine", name);
    const xml = `${poolDir}/swapped.xml`;
    writeFileSync(xml, `<network><name>${name}</name><ip address='${subnet}.1' netmask='255.255.255.0'/></network>`);
    virsh(URI, "net-define", xml);
    await runtime.remove("Network", net.id!, net.outs as Props);
    assert.match(virsh(URI, "net-info", name), new RegExp(name));

    const snap = await runtime.create("Snapshot", await checked("Snapshot", { host: "kvm", vm: legacyVm, name: "swapped" }));
    virsh(URI, "snapshot-delete", legacyVm, "swapped");
    virsh(URI, "snapshot-create-as", legacyVm, "swapped", "the admin's, same name");
    await runtime.remove("Snapshot", snap.id!, snap.outs as Props);
    assert.match(virsh(URI, "snapshot-list", legacyVm, "--name"), /^swapped$/m);
  });
});
