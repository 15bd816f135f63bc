import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NetworkInputs } from "../../../provider/core/model";
import { buildDomainXml, buildNetworkXml, parseDomainXml, type DomainBuildContext } from "../../../provider/drivers/libvirt/xml";
import { vm } from "../../unit/libvirt-xml/fixtures";
import { expectedParse, projectParse } from "../../unit/libvirt-xml/generate";
import { canonicalCpuSets, withGeneratedMacs } from "./compare";
import { ensureLibvirtd, guestImage, run, TAG, tryVirsh, virsh, withFile } from "./virsh";

describe("a domain using most of the builder starts under TCG", function () {
  this.timeout(900_000);
  let dir = "";
  const netName = `${TAG}-rich`;
  const vmName = `${TAG}-rich`;
  let guest = "";

  before(() => {
    // Made here, not at load time, so a run that filters this suite out leaves nothing behind.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TAG}-rich-`));
    ensureLibvirtd();
    guest = guestImage();
  });

  after(() => {
    tryVirsh("destroy", vmName);
    tryVirsh("undefine", "--nvram", vmName);
    tryVirsh("net-destroy", netName);
    tryVirsh("net-undefine", netName);
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
  });

  it("pinning, NUMA, maxMemory, iothreads, virtio-scsi, SATA, seed cdrom, multiqueue, VNC password, hot-add vCPUs", () => {
    const file = (name: string, format: "qcow2" | "raw") => {
      const p = path.join(dir, name);
      const r = run("qemu-img", ["create", "-q", "-f", format, p, "64M"]);
      assert.equal(r.status, 0, r.stderr);
      return { kind: "file" as const, path: p, format };
    };
    const net = NetworkInputs.parse({ host: "kvm1", name: netName, mode: "isolated", cidr: "10.231.97.0/24", dhcp: {} });
    withFile(buildNetworkXml(net, { ownership: { resource: "urn:it" } }), (f) => virsh("net-define", f));
    virsh("net-start", netName);
    const seed = path.join(dir, "seed.iso");
    fs.writeFileSync(seed, Buffer.alloc(1024 * 1024));
    const spec = vm({
      name: vmName,
      cpu: {
        sockets: 2,
        cores: 1,
        maxVcpus: 4,
        mode: "host-passthrough",
        pinning: { "0": "0", "1": "1" },
        emulatorPinning: "0-1",
        numa: [
          { vcpus: "0", memoryMiB: 128, hostNode: 0 },
          { vcpus: "1", memoryMiB: 128, hostNode: 0 },
        ],
      },
      memory: { sizeMiB: 256, maxMiB: 512, balloon: { statsPeriodSeconds: 5 } },
      disks: {
        vda: { volume: "a", io: "native", iothread: 1 },
        scsi0: { volume: "b", iothread: 2 },
        sdb: { volume: "c", cache: "writeback" },
        sata0: { volume: "d" },
        vdc: { volume: "e", readOnly: true },
      },
      nics: { net0: { network: netName, queues: 2 }, net1: { network: netName, model: "e1000e" } },
      cloudInit: { userData: "#cloud-config\n" },
      console: { kind: "vnc", password: "n0tl0gd" },
    });
    const ctx: DomainBuildContext = {
      type: "qemu",
      disks: { vda: file("a.qcow2", "qcow2"), scsi0: file("b.qcow2", "qcow2"), sdb: file("c.raw", "raw"), sata0: file("d.raw", "raw"), vdc: file("e.qcow2", "qcow2") },
      cloudInitSeed: seed,
      boot: { kernel: path.join(guest, "vmlinuz"), initrd: path.join(guest, "initrd.img"), cmdline: "console=ttyS0" },
      ownership: { resource: "urn:it" },
    };
    withFile(buildDomainXml(spec, ctx), (f) => virsh("define", f));
    virsh("start", vmName);
    assert.match(virsh("domstate", vmName), /running/);
    const live = parseDomainXml(virsh("dumpxml", "--security-info", vmName));
    // The running domain's XML (aliases, PCI addresses, ports, runtime ids) reads back to the same spec.
    const expected = withGeneratedMacs(expectedParse(spec, ctx), live.macs);
    assert.deepEqual(canonicalCpuSets(projectParse(live)), canonicalCpuSets(expected));
    assert.deepEqual(live.vcpus, { current: 2, max: 4 });
    assert.equal(live.memory.maxMiB, 512);
    assert.equal(live.disks.scsi0.bus, "virtio-scsi");
    assert.equal(live.disks.scsi0.iothread, 2);
    assert.equal(live.disks.vda.iothread, 1);
    assert.equal(live.disks.sata0.bus, "sata");
    assert.equal(live.cloudInitSeed, seed);
    assert.equal(live.nics.net0.queues, 2);
    assert.equal(live.console.password, "n0tl0gd");
    // Hot-add one vCPU: the topology libvirt was given must allow it.
    virsh("setvcpus", vmName, "3", "--live");
    assert.match(virsh("vcpucount", vmName, "--live", "--active"), /3/);
  });
});
