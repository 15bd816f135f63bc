import { strict as assert } from "node:assert";
import { parseXml, type XmlNode } from "../../../provider/drivers/libvirt/xml/dom";
import { buildDomainXml, DOMAIN_METADATA_NS, LibvirtXmlError } from "../../../provider/drivers/libvirt/xml";
import { SPECS, ctxFor, vm } from "./fixtures";
import { assertValidLibvirtXml } from "./validate";

function built(name: keyof typeof SPECS, extra: Parameters<typeof ctxFor>[1] = {}): XmlNode {
  const spec = SPECS[name];
  return parseXml(buildDomainXml(spec, ctxFor(spec, extra)), "domain");
}

const devices = (d: XmlNode) => d.child("devices") as XmlNode;
const diskByDev = (d: XmlNode, dev: string) =>
  devices(d)
    .all("disk")
    .find((x) => x.child("target")?.attr("dev") === dev) as XmlNode;

describe("libvirt domain XML builder", () => {
  for (const name of Object.keys(SPECS) as (keyof typeof SPECS)[]) {
    it(`${name}: passes libvirt's domain schema (kvm and qemu)`, () => {
      for (const type of ["kvm", "qemu"] as const) assertValidLibvirtXml(buildDomainXml(SPECS[name], ctxFor(SPECS[name], { type })), "domain");
    });
  }

  it("minimal: vCPU, memory, q35, serial console, lifecycle actions, balloon", () => {
    const d = built("minimal");
    assert.equal(d.attr("type"), "qemu");
    assert.equal(d.child("name")?.text, "web");
    assert.deepEqual(d.child("vcpu")?.attrs, { placement: "static" });
    assert.equal(d.child("vcpu")?.text, "1");
    assert.equal(d.child("memory")?.text, "1024");
    assert.equal(d.child("memory")?.attr("unit"), "MiB");
    assert.equal(d.child("currentMemory")?.text, "1024");
    assert.equal(d.at("os", "type")?.attr("machine"), "q35");
    assert.equal(d.at("os", "type")?.text, "hvm");
    assert.equal(d.at("os")?.attr("firmware"), undefined);
    assert.equal(d.child("on_poweroff")?.text, "destroy");
    assert.equal(d.child("on_reboot")?.text, "restart");
    assert.equal(devices(d).child("serial")?.attr("type"), "pty");
    assert.equal(devices(d).child("console")?.child("target")?.attr("type"), "serial");
    assert.equal(devices(d).child("memballoon")?.attr("model"), "virtio");
    assert.equal(devices(d).child("graphics"), undefined);
    assert.equal(
      devices(d)
        .all("controller")
        .filter((c) => c.attr("model") === "pcie-root-port").length,
      4,
    );
  });

  it("pinning, NUMA with strict host binding, hugepages and DIMM-hotplug ceiling", () => {
    const d = built("pinnedNuma", { type: "kvm" });
    const tune = d.child("cputune") as XmlNode;
    assert.deepEqual(
      tune.all("vcpupin").map((p) => [p.attr("vcpu"), p.attr("cpuset")]),
      [
        ["0", "2"],
        ["1", "3"],
        ["2", "4-5"],
        ["3", "6,8"],
      ],
    );
    assert.equal(tune.child("emulatorpin")?.attr("cpuset"), "0-1");
    assert.equal(d.child("cpu")?.attr("mode"), "host-passthrough");
    assert.deepEqual(d.at("cpu", "topology")?.attrs, { sockets: "2", cores: "2", threads: "1" });
    const cells = d.at("cpu", "numa")?.all("cell") ?? [];
    assert.deepEqual(
      cells.map((c) => c.attrs),
      [
        { id: "0", cpus: "0-1", memory: "2048", unit: "MiB" },
        { id: "1", cpus: "2-3", memory: "2048", unit: "MiB" },
      ],
    );
    assert.deepEqual(d.at("numatune", "memory")?.attrs, { mode: "strict", nodeset: "0,1" });
    assert.deepEqual(
      d
        .child("numatune")
        ?.all("memnode")
        .map((m) => m.attrs),
      [
        { cellid: "0", mode: "strict", nodeset: "0" },
        { cellid: "1", mode: "strict", nodeset: "1" },
      ],
    );
    assert.deepEqual(d.at("memoryBacking", "hugepages", "page")?.attrs, { size: "2048", unit: "KiB" });
    // With NUMA the ceiling is DIMM hotplug: <memory> must equal the cells' sum.
    assert.equal(d.child("maxMemory")?.text, "8192");
    assert.equal(d.child("maxMemory")?.attr("slots"), "16");
    assert.equal(d.child("memory")?.text, "4096");
    assert.equal(d.child("iothreads")?.text, "1");
    const vda = diskByDev(d, "vda");
    assert.deepEqual(vda.child("driver")?.attrs, { name: "qemu", type: "qcow2", cache: "none", io: "native", iothread: "1" });
    assert.equal(vda.child("boot")?.attr("order"), "1");
  });

  it("host-passthrough becomes libvirt's 'maximum' under TCG", () => {
    assert.equal(built("pinnedNuma", { type: "qemu" }).child("cpu")?.attr("mode"), "maximum");
  });

  it("virtio-scsi: one controller per iothread with queues, SCSI units from the slot, multiqueue NICs", () => {
    const d = built("scsiMultiqueue", { type: "kvm" });
    assert.equal(d.child("vcpu")?.attr("current"), "4");
    assert.equal(d.child("vcpu")?.text, "8");
    assert.deepEqual(d.at("cpu", "topology")?.attrs, { sockets: "1", cores: "8", threads: "1" });
    assert.equal(d.at("cpu", "model")?.text, "Skylake-Server");
    assert.equal(d.child("memory")?.text, "4096");
    assert.equal(d.child("currentMemory")?.text, "2048");
    assert.equal(d.child("maxMemory"), undefined);
    assert.equal(devices(d).at("memballoon", "stats")?.attr("period"), "5");
    assert.equal(d.child("iothreads")?.text, "2");
    const scsi = devices(d)
      .all("controller")
      .filter((c) => c.attr("type") === "scsi");
    assert.deepEqual(
      scsi.map((c) => [c.attr("index"), c.attr("model"), c.child("driver")?.attr("queues"), c.child("driver")?.attr("iothread")]),
      [
        ["0", "virtio-scsi", "4", undefined],
        ["1", "virtio-scsi", "4", "1"],
        ["2", "virtio-scsi", "4", "2"],
      ],
    );
    const scsi0 = diskByDev(d, "sdaa");
    assert.equal(scsi0.child("target")?.attr("bus"), "scsi");
    assert.deepEqual(scsi0.child("address")?.attrs, { type: "drive", controller: "1", bus: "0", target: "0", unit: "26" });
    assert.equal(scsi0.child("driver")?.attr("iothread"), undefined);
    assert.equal(diskByDev(d, "sdb").child("address")?.attr("controller"), "0");
    assert.equal(diskByDev(d, "sdb").child("driver")?.attr("cache"), "writeback");
    assert.ok(diskByDev(d, "vdc").child("readonly"));
    assert.equal(diskByDev(d, "vdc").child("driver")?.attr("type"), "qcow2", "the resolved source's format wins");
    const [net0, net2] = devices(d).all("interface");
    assert.equal(net0.attr("type"), "network");
    assert.equal(net0.child("source")?.attr("network"), "lab");
    assert.deepEqual(net0.child("driver")?.attrs, { name: "vhost", queues: "4" });
    assert.equal(net0.child("boot")?.attr("order"), "2");
    assert.equal(net0.child("alias")?.attr("name"), "ua-net0");
    assert.equal(net2.attr("type"), "bridge");
    assert.equal(net2.child("source")?.attr("bridge"), "br0");
    assert.equal(net2.child("vlan"), undefined);
    assert.equal(net2.child("model")?.attr("type"), "e1000e");
    assert.equal(net2.child("driver"), undefined);
    assert.equal(net2.child("alias")?.attr("name"), "ua-net2");
  });

  it("multiqueue under TCG names QEMU's own backend instead of vhost (no /dev/vhost-net without KVM)", () => {
    const d = built("scsiMultiqueue", { type: "qemu" });
    assert.deepEqual(devices(d).child("interface")?.child("driver")?.attrs, { name: "qemu", queues: "4" });
  });

  it("GPU hostdevs, USB by id, SR-IOV NIC, UEFI secure boot with SMM, TPM, cloud-init cdrom, VNC password", () => {
    const d = built("gpuSecure");
    const os = d.child("os") as XmlNode;
    assert.equal(os.attr("firmware"), "efi");
    assert.deepEqual(
      os
        .child("firmware")
        ?.all("feature")
        .map((f) => f.attrs),
      [
        { enabled: "yes", name: "secure-boot" },
        { enabled: "yes", name: "enrolled-keys" },
      ],
    );
    assert.equal(d.at("features", "smm")?.attr("state"), "on");
    assert.deepEqual(devices(d).child("tpm")?.attrs, { model: "tpm-crb" });
    assert.deepEqual(devices(d).at("tpm", "backend")?.attrs, { type: "emulator", version: "2.0" });
    const hostdevs = devices(d).all("hostdev");
    assert.deepEqual(
      hostdevs.map((h) => [h.attr("type"), h.attr("managed"), h.child("alias")?.attr("name")]),
      [
        ["pci", "yes", "ua-hostdev0"],
        ["pci", "yes", "ua-hostdev1"],
        ["usb", "yes", "ua-hostdev3"],
      ],
    );
    assert.deepEqual(hostdevs[0].at("source", "address")?.attrs, { domain: "0x0000", bus: "0x3b", slot: "0x00", function: "0x0" });
    assert.equal(hostdevs[0].child("rom")?.attr("bar"), "on");
    assert.equal(hostdevs[1].child("rom")?.attr("bar"), "off");
    assert.equal(hostdevs[2].at("source", "vendor")?.attr("id"), "0x046d");
    const vf = devices(d).child("interface") as XmlNode;
    assert.equal(vf.child("source")?.attr("network"), "vf-pool");
    assert.equal(vf.child("model"), undefined);
    assert.equal(vf.at("vlan", "tag")?.attr("id"), "7");
    const seed = devices(d)
      .all("disk")
      .find((x) => x.attr("device") === "cdrom") as XmlNode;
    assert.equal(seed.child("source")?.attr("file"), "/var/lib/novacron/seeds/gpu1.iso");
    assert.equal(seed.child("target")?.attr("bus"), "sata");
    assert.ok(seed.child("readonly"));
    // The SATA data disk and the seed share the built-in AHCI controller on consecutive ports.
    assert.equal(diskByDev(d, "sddw").child("address")?.attr("unit"), "0");
    assert.equal(seed.child("address")?.attr("unit"), "1");
    const vnc = devices(d).child("graphics") as XmlNode;
    assert.equal(vnc.attr("type"), "vnc");
    assert.equal(vnc.attr("passwd"), 's3cr<t&"', "escaped on the way out, intact on the way back");
    assert.equal(vnc.child("listen")?.attr("address"), "0.0.0.0");
    assert.equal(d.child("vcpu")?.attr("current"), "4");
    assert.deepEqual(d.at("cpu", "topology")?.attrs, { sockets: "1", cores: "4", threads: "2" });
    assert.deepEqual(d.at("memoryBacking", "hugepages", "page")?.attrs, { size: "1048576", unit: "KiB" });
  });

  it("ownership metadata in NovaCron's namespace with labels", () => {
    const d = built("gpuSecure");
    const root = d.child("metadata")?.children[0] as XmlNode;
    assert.equal(root.namespaceUri, DOMAIN_METADATA_NS);
    assert.equal(root.childLocal("owner")?.attr("managed-by"), "novacron");
    assert.equal(root.childLocal("owner")?.attr("resource"), "urn:pulumi:dev::lab::novacron:index:VirtualMachine::gpu1");
    assert.deepEqual(
      root
        .childLocal("labels")
        ?.allLocal("label")
        .map((l) => l.attrs),
      [
        { key: "app.kubernetes.io/name", value: "trainer" },
        { key: "team", value: "ml" },
      ],
    );
  });

  it("i440fx: the seed is an IDE cdrom, no PCIe root ports; spice console", () => {
    const d = built("pcSpice");
    const seed = devices(d)
      .all("disk")
      .find((x) => x.attr("device") === "cdrom") as XmlNode;
    assert.deepEqual(seed.child("target")?.attrs, { dev: "hdd", bus: "ide" });
    assert.equal(
      devices(d)
        .all("controller")
        .filter((c) => c.attr("type") === "pci").length,
      0,
    );
    assert.equal(devices(d).child("graphics")?.attr("type"), "spice");
    assert.equal(devices(d).child("graphics")?.attr("passwd"), undefined);
    assert.deepEqual(
      d
        .at("os", "firmware")
        ?.all("feature")
        .map((f) => f.attrs),
      [{ enabled: "no", name: "secure-boot" }],
    );
    assert.equal(d.child("features")?.child("smm"), undefined);
  });

  it("direct kernel boot, explicit UEFI images, uuid, emulator", () => {
    const spec = vm({ firmware: { type: "uefi", secureBoot: true } });
    const xml = buildDomainXml(
      spec,
      ctxFor(spec, {
        uuid: "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c",
        emulator: "/usr/bin/qemu-system-x86_64",
        boot: { kernel: "/var/lib/novacron/boot/vmlinuz", initrd: "/var/lib/novacron/boot/initrd.img", cmdline: "console=ttyS0  quiet" },
        uefi: { loader: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", nvram: "/var/lib/libvirt/qemu/nvram/web_VARS.fd", nvramTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" },
      }),
    );
    assertValidLibvirtXml(xml, "domain");
    const d = parseXml(xml, "domain");
    assert.equal(d.child("uuid")?.text, "0b7b2b4e-4f58-4d0e-9d6b-6f1b1e1a2b3c");
    assert.equal(devices(d).child("emulator")?.text, "/usr/bin/qemu-system-x86_64");
    assert.equal(d.at("os", "kernel")?.text, "/var/lib/novacron/boot/vmlinuz");
    assert.equal(d.at("os", "cmdline")?.rawText, "console=ttyS0  quiet");
    assert.equal(d.at("os")?.attr("firmware"), undefined);
    assert.deepEqual(d.at("os", "loader")?.attrs, { readonly: "yes", secure: "yes", type: "pflash" });
    assert.equal(d.at("os", "nvram")?.attr("template"), "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  });

  it("refuses what libvirt 9.0 cannot express, naming the field", () => {
    const nvme = vm({ disks: { nvme0: { volume: "x" } } });
    assert.throws(
      () => buildDomainXml(nvme, ctxFor(nvme)),
      (e: unknown) => e instanceof LibvirtXmlError && /disks\.nvme0\.bus.*NVMe/.test(e.message),
    );
    const odd = vm({ cpu: { sockets: 2, cores: 1, maxVcpus: 5 } });
    assert.throws(() => buildDomainXml(odd, ctxFor(odd)), /cpu\.maxVcpus: got 5.*multiple of sockets×threads \(2\)/);
    const sataIo = vm({ disks: { sata0: { volume: "x", iothread: 1 } } });
    assert.throws(() => buildDomainXml(sataIo, ctxFor(sataIo)), /disks\.sata0\.iothread/);
    const roSata = vm({ disks: { sata1: { volume: "x", readOnly: true } } });
    assert.throws(() => buildDomainXml(roSata, ctxFor(roSata)), /disks\.sata1\.readOnly: libvirt refuses read-only SATA/);
    const nativeCached = vm({ disks: { vda: { volume: "x", io: "native", cache: "writeback" } } });
    assert.throws(() => buildDomainXml(nativeCached, ctxFor(nativeCached)), /disks\.vda\.io: io "native" needs O_DIRECT/);
    const mqE1000 = vm({ nics: { net0: { network: "lab", model: "e1000e", queues: 4 } } });
    assert.throws(() => buildDomainXml(mqE1000, ctxFor(mqE1000)), /nics\.net0\.queues: multiqueue is a virtio-net feature/);
    const bridgeVlan = vm({ nics: { net1: { bridge: "br0", vlan: 42 } } });
    assert.throws(() => buildDomainXml(bridgeVlan, ctxFor(bridgeVlan)), /nics\.net1\.vlan: libvirt tags VLANs only on SR-IOV/);
    const emptyPin = vm({ cpu: { pinning: { "0": "2,^2" } } });
    assert.throws(() => buildDomainXml(emptyPin, ctxFor(emptyPin)), /cpu\.pinning\.0: "2,\^2" selects no host CPU/);
    const unresolved = vm({ disks: { vda: { volume: "x" } } });
    assert.throws(() => buildDomainXml(unresolved, { ...ctxFor(unresolved), disks: {} }), /disks\.vda: no resolved source/);
    const seedless = vm({ cloudInit: { userData: "#cloud-config" } });
    assert.throws(() => buildDomainXml(seedless, { ...ctxFor(seedless), cloudInitSeed: undefined }), /cloudInit: the seed ISO/);
  });

  it("refuses VNC passwords libvirt would refuse, without echoing them", () => {
    const spec = vm({ console: { kind: "vnc", password: "much-too-long" } });
    assert.throws(
      () => buildDomainXml(spec, ctxFor(spec)),
      (e: unknown) => e instanceof LibvirtXmlError && /at most 8/.test(e.message) && !e.message.includes("much-too-long"),
    );
    const spice = vm({ console: { kind: "spice", password: "much-too-long" } });
    assert.doesNotThrow(() => buildDomainXml(spice, ctxFor(spice)));
  });

  it("never puts the console password in an error message", () => {
    const spec = vm({ console: { kind: "vnc", password: "hunter2" }, disks: { nvme0: { volume: "x" } } });
    assert.throws(
      () => buildDomainXml(spec, ctxFor(spec)),
      (e: unknown) => e instanceof Error && !e.message.includes("hunter2"),
    );
  });
});
