import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { buildDomainXml, parseDomainXml, XmlParseError } from "../../../provider/drivers/libvirt/xml";
import { ctxFor, SPECS } from "./fixtures";

/** A domain no NovaCron code wrote: libvirt's normalised units, versioned machine, runtime aliases, unknown elements. */
const FOREIGN = `<?xml version="1.0" encoding="UTF-8"?>
<!-- written by hand, in the style of virt-install output -->
<domain type='kvm' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>legacy &amp; friends</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <title>Someone else's VM</title>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
    <x:novacron xmlns:x="https://example.com/not-ours"><x:owner managed-by="novacron"/></x:novacron>
  </metadata>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='auto' current='3'>6</vcpu>
  <resource><partition>/machine</partition></resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
    <bootmenu enable='yes'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>Cascadelake-Server</model>
    <vendor>Intel</vendor>
    <topology sockets='1' dies='1' cores='2' threads='3'/>
    <feature policy='require' name='vmx'/>
  </cpu>
  <pm><suspend-to-mem enabled='no'/></pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='rbd' name='pool/image'><host name='mon1' port='6789'/></source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native' discard='unmap'/>
      <source dev='/dev/vg0/data'/>
      <target dev='sda' bus='scsi'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/srv/old.img'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/install.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <controller type='scsi' index='0' model='lsilogic'/>
    <interface type='direct'>
      <mac address='52:54:00:AB:CD:EF'/>
      <source dev='eth0' mode='bridge'/>
      <model type='virtio'/>
      <alias name='net0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:00:02'/>
      <source network='default' portid='1'/>
      <target dev='vnet3'/>
      <model type='rtl8139'/>
      <bandwidth><inbound average='1000'/></bandwidth>
    </interface>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x1a' slot='0x10' function='0x3'/></source>
    </hostdev>
    <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf</block></source></hostdev>
    <graphics type='spice' autoport='yes'><listen type='network' network='default'/><image compression='off'/></graphics>
    <video><model type='qxl' ram='65536' vram='65536'/></video>
    <memballoon model='none'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <something-from-the-future flavour='unknown'><nested/></something-from-the-future>
  </devices>
  <qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>
</domain>`;

describe("libvirt domain XML parser on domains NovaCron did not write", () => {
  it("reads a hand-written domain with unknown elements into the model shape", () => {
    const d = parseDomainXml(FOREIGN);
    assert.equal(d.name, "legacy & friends");
    assert.equal(d.uuid, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    assert.equal(d.type, "kvm");
    assert.equal(d.machine, "pc");
    assert.equal(d.machineType, "pc-i440fx-7.2");
    assert.deepEqual(d.vcpus, { current: 3, max: 6 });
    assert.deepEqual(d.cpu, { sockets: 1, cores: 1, threads: 3, maxVcpus: 6, mode: "custom", model: "Cascadelake-Server" });
    assert.deepEqual(d.memory, { sizeMiB: 2048, maxMiB: 4096 }, "no balloon settings: the balloon is model none");
    assert.deepEqual(Object.keys(d.disks).sort(), ["hda", "sda"], "an RBD disk is preserved, not managed");
    assert.deepEqual(
      d.disks.sda,
      {
        bus: "scsi",
        targetDev: "sda",
        format: "raw",
        cache: "none",
        io: "native",
        discard: "unmap",
        readOnly: false,
        source: { kind: "block", dev: "/dev/vg0/data" },
        address: { controller: 0, bus: 0, target: 0, unit: 0 },
      },
      "an lsilogic controller is not virtio-scsi",
    );
    assert.deepEqual(d.disks.hda, { bus: "ide", targetDev: "hda", readOnly: false, source: { kind: "file", path: "/srv/old.img" } });
    assert.deepEqual(d.cdroms, { hdc: { bus: "ide", path: "/srv/install.iso" } }, "an IDE CD-ROM is managed, by slot");
    assert.equal(d.cloudInitSeed, undefined);
    assert.deepEqual(Object.keys(d.nics), ["net0"], "libvirt's own aliases (no ua- prefix) do not name slots; a NIC with bandwidth limits is preserved");
    assert.deepEqual(d.nics.net0, { type: "direct", model: "virtio", mac: "52:54:00:ab:cd:ef", queues: 1, direct: { device: "eth0", mode: "bridge" } });
    assert.deepEqual(d.macs, { net0: "52:54:00:ab:cd:ef" });
    assert.deepEqual(d.passthrough, {
      hostdev0: { kind: "pci", address: { domain: 0, bus: 0x1a, slot: 0x10, function: 3 }, managed: false, romBar: true },
    });
    assert.deepEqual(d.firmware, { type: "bios", secureBoot: false, tpm: false });
    assert.deepEqual(d.console, { kind: "none" }, "a SPICE console on a network listen is preserved, not managed");
    assert.deepEqual(d.preserved.summary, [
      "disk disk vda (virtio, pool/image): kept as it is (<source> settings are not in the model)".replace("<source> settings", "its source settings"),
      "interface network (default, 52:54:00:00:00:02): kept as it is (<bandwidth> is not in the model)",
      "hostdev storage: kept as it is (only PCI and USB passthrough is managed)",
      "graphics spice: kept as it is (only one plain VNC or SPICE console is managed)",
      "rng virtio",
      "something-from-the-future",
    ]);
    assert.deepEqual(
      d.preserved.top.map((n) => n.name),
      ["title", "resource", "pm", "qemu:commandline"],
    );
    assert.deepEqual(
      d.preserved.os.map((n) => n.name),
      ["boot", "bootmenu"],
    );
    assert.deepEqual(
      d.preserved.cpu.map((n) => n.name),
      ["vendor", "feature"],
    );
    assert.deepEqual(
      d.preserved.metadata.map((n) => n.name),
      ["libosinfo:libosinfo", "x:novacron"],
    );
    assert.equal(d.serialConsole, false);
    assert.equal(d.ownership.owned, false, "a marker under someone else's namespace is not ours");
    assert.deepEqual(d.labels, {});
  });

  it("reads libvirt's test driver domain (virsh -c test:///default dumpxml test)", function () {
    const run = spawnSync("virsh", ["-c", "test:///default", "dumpxml", "test"], { encoding: "utf8" });
    if (run.status !== 0) this.skip();
    const d = parseDomainXml(run.stdout);
    assert.equal(d.name, "test");
    assert.equal(d.type, "test");
    assert.ok(d.uuid);
    assert.ok(d.memory.sizeMiB > 0);
    assert.ok(d.vcpus.max >= 1);
    assert.equal(d.cpu.sockets * d.cpu.cores * d.cpu.threads, d.vcpus.current);
    assert.ok(Object.keys(d.disks).length >= 1);
    assert.ok(Object.values(d.nics).every((n) => typeof n.mac === "string"));
    assert.equal(d.ownership.owned, false);
  });

  it("a running domain's NICs: the network name wins over the actual type libvirt shows", () => {
    const d = parseDomainXml(`<domain type='qemu'><name>live</name><memory>65536</memory><os><type>hvm</type></os><devices>
      <interface type='bridge'><mac address='52:54:00:cf:d9:58'/><source network='lan' portid='863bb5d7-7bd2-4cb0-9d00-65cf56189e62' bridge='br0'/>
        <target dev='vnet51'/><model type='virtio'/><alias name='ua-net0'/></interface>
      <interface type='bridge'><mac address='52:54:00:cf:d9:59'/><source bridge='br1'/><target dev='vnet52'/><model type='e1000e'/><alias name='ua-net1'/></interface>
    </devices></domain>`);
    assert.equal(d.nics.net0.network, "lan");
    assert.equal(d.nics.net0.bridge, undefined);
    assert.equal(d.nics.net0.type, "bridge");
    assert.equal(d.nics.net1.bridge, "br1");
    assert.equal(d.nics.net1.network, undefined);
  });

  it("tolerates a bare minimum domain", () => {
    const d = parseDomainXml("<domain type='qemu'><name>x</name><memory>65536</memory><os><type>hvm</type></os></domain>");
    assert.equal(d.memory.sizeMiB, 64);
    assert.deepEqual(d.cpu, { sockets: 1, cores: 1, threads: 1, mode: "hypervisor-default" }, "no <cpu>: the emulator's default CPU");
    assert.deepEqual(d.disks, {});
    assert.deepEqual(d.console, { kind: "none" });
  });

  it("rejects malformed XML and non-domain roots with an XmlParseError", () => {
    assert.throws(() => parseDomainXml("<domain><name>x</domain>"), XmlParseError);
    assert.throws(() => parseDomainXml("<network><name>x</name></network>"), /root element is <network>/);
  });
});

describe("libvirt XML: the cloud-init seed's salt lives in NovaCron's metadata", () => {
  it("is written when given, read back, and absent for domains made before salts", () => {
    const spec = SPECS.minimal;
    const salted = buildDomainXml(spec, ctxFor(spec, { seedSalt: "ab".repeat(16) }));
    assert.match(salted, /<novacron:extra key=["']seed-salt["'] value=["'](ab){16}["']\/>/);
    assert.equal(parseDomainXml(salted).seedSalt, "ab".repeat(16));
    assert.equal(parseDomainXml(buildDomainXml(spec, ctxFor(spec))).seedSalt, undefined);
    // Only our own metadata counts: the same extra under a foreign namespace is not ours.
    assert.equal(parseDomainXml(FOREIGN).seedSalt, undefined);
  });
});
