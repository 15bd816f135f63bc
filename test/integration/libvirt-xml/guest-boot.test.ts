import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NetworkInputs, StoragePoolInputs, VolumeInputs } from "../../../provider/core/model";
import { buildDomainXml, buildNetworkXml, buildStoragePoolXml, buildVolumeXml, parseDomainXml, parseStoragePoolXml, parseVolumeXml } from "../../../provider/drivers/libvirt/xml";
import { vm } from "../../unit/libvirt-xml/fixtures";
import { ensureLibvirtd, guestImage, TAG, tryVirsh, virsh, withFile } from "./virsh";

describe("a guest built entirely from these builders boots and takes a DHCP lease", function () {
  this.timeout(900_000);
  let poolDir = "";
  const poolName = `${TAG}-pool`;
  const netName = `${TAG}-lab`;
  const vmName = `${TAG}-boot`;
  const mac = "52:54:00:7e:57:01";
  let guest = "";

  before(() => {
    // Made here, not at load time, so a run that filters this suite out leaves nothing behind.
    poolDir = fs.mkdtempSync(path.join(os.tmpdir(), `${TAG}-pool-`));
    ensureLibvirtd();
    guest = guestImage();
  });

  after(() => {
    tryVirsh("destroy", vmName);
    tryVirsh("undefine", "--nvram", vmName);
    tryVirsh("net-destroy", netName);
    tryVirsh("net-undefine", netName);
    tryVirsh("vol-delete", "--pool", poolName, "scratch.qcow2");
    tryVirsh("vol-delete", "--pool", poolName, "base.qcow2");
    tryVirsh("pool-destroy", poolName);
    tryVirsh("pool-undefine", poolName);
    if (poolDir !== "") fs.rmSync(poolDir, { recursive: true, force: true });
  });

  it("pool, volumes with a backing store, isolated network and VM", () => {
    const pool = StoragePoolInputs.parse({ host: "kvm1", name: poolName, kind: "dir", path: poolDir });
    withFile(buildStoragePoolXml(pool), (file) => virsh("pool-define", file));
    virsh("pool-start", poolName);
    assert.equal(parseStoragePoolXml(virsh("pool-dumpxml", poolName)).path, poolDir);

    const base = VolumeInputs.parse({ host: "kvm1", pool: poolName, name: "base.qcow2", sizeGiB: 1 });
    withFile(buildVolumeXml(base), (file) => virsh("vol-create", poolName, file));
    const basePath = parseVolumeXml(virsh("vol-dumpxml", "--pool", poolName, "base.qcow2")).path as string;
    const overlay = VolumeInputs.parse({ host: "kvm1", pool: poolName, name: "scratch.qcow2", backingStore: "base.qcow2" });
    withFile(buildVolumeXml(overlay, { backingPath: basePath, capacityBytes: 1024 ** 3 }), (file) => virsh("vol-create", poolName, file));
    const scratch = parseVolumeXml(virsh("vol-dumpxml", "--pool", poolName, "scratch.qcow2"));
    assert.equal(scratch.format, "qcow2");
    assert.equal(scratch.sizeGiB, 1);
    assert.equal(scratch.backingStore?.path, basePath);

    const net = NetworkInputs.parse({ host: "kvm1", name: netName.slice(0, 60), mode: "isolated", cidr: "10.231.98.0/24", dhcp: {} });
    withFile(buildNetworkXml(net, { ownership: { resource: "urn:it" } }), (file) => virsh("net-define", file));
    virsh("net-start", netName);

    const spec = vm({
      name: vmName,
      memory: { sizeMiB: 192 },
      cpu: { mode: "host-passthrough" },
      disks: { vda: { volume: "scratch.qcow2" } },
      // Two queues under TCG: the interface must start without vhost-net.
      nics: { net0: { network: netName, mac, queues: 2 } },
    });
    const xml = buildDomainXml(spec, {
      type: "qemu",
      disks: { vda: { kind: "volume", pool: poolName, volume: "scratch.qcow2", format: "qcow2" } },
      boot: { kernel: path.join(guest, "vmlinuz"), initrd: path.join(guest, "initrd.img"), cmdline: "console=ttyS0" },
      ownership: { resource: "urn:it" },
    });
    withFile(xml, (file) => virsh("define", file));
    virsh("start", vmName);
    const live = parseDomainXml(virsh("dumpxml", vmName));
    assert.equal(live.macs.net0, mac);
    assert.equal(live.nics.net0.network, netName);
    assert.equal(live.ownership.owned, true);
    assert.deepEqual(live.disks.vda.source, { kind: "volume", pool: poolName, volume: "scratch.qcow2" });

    const deadline = Date.now() + 180_000;
    let leases = "";
    while (Date.now() < deadline) {
      leases = virsh("net-dhcp-leases", netName);
      if (leases.includes(mac)) break;
      spawnSync("sleep", ["2"]);
    }
    assert.ok(leases.includes(mac), `no DHCP lease for ${mac} within 180 s:\n${leases}`);
    assert.match(leases, /10\.231\.98\.(1[2-9]\d|2[0-5]\d)\//, "the lease comes from the upper half of the subnet");
  });
});
