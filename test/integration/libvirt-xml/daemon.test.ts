import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NetworkInputs, StoragePoolInputs, VolumeInputs, parseCpuSet, type VirtualMachineSpec } from "../../../provider/core/model";
import {
  buildDomainXml, buildNetworkXml, buildStoragePoolXml, buildVolumeXml,
  parseDomainXml, parseNetworkXml, parsePciNodeDeviceXml, parseStoragePoolXml, parseVolumeXml,
} from "../../../provider/drivers/libvirt/xml";
import { ctxFor, SPECS, vm } from "../../unit/libvirt-xml/fixtures";
import { expectedParse, projectParse, randomSpec } from "../../unit/libvirt-xml/generate";

const REPO = path.resolve(__dirname, "../../..");
const URI = "qemu:///system";
const TAG = `ncxml-it-${process.pid}`;

function run(cmd: string, args: string[], timeoutMs = 120_000) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function virsh(...args: string[]): string {
  const r = run("virsh", ["-c", URI, ...args]);
  assert.equal(r.status, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function tryVirsh(...args: string[]): void {
  run("virsh", ["-c", URI, ...args]);
}

function withFile<T>(xml: string, use: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ncxml-"));
  try {
    const file = path.join(dir, "doc.xml");
    fs.writeFileSync(file, xml);
    return use(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Libvirt rewrites CPU sets in its own canonical spelling ("4-7,^6" → "4-5,7"): compare the CPUs they select. */
function canonicalCpuSets<T>(projection: T): T {
  const p = structuredClone(projection) as { cpu: { pinning?: Record<string, string>; emulatorPinning?: string; numa?: { vcpus: string }[] } };
  const canon = (set: string) => parseCpuSet(set).join(",");
  if (p.cpu.pinning) p.cpu.pinning = Object.fromEntries(Object.entries(p.cpu.pinning).map(([k, v]) => [k, canon(v)]));
  if (p.cpu.emulatorPinning) p.cpu.emulatorPinning = canon(p.cpu.emulatorPinning);
  p.cpu.numa?.forEach((cell) => (cell.vcpus = canon(cell.vcpus)));
  return p as T;
}

/** Libvirt generates a MAC for a NIC without one; the spec then expects whatever it chose. */
function withGeneratedMacs<T extends { nics: Record<string, { mac?: string }> }>(expected: T, macs: Record<string, string>): T {
  const out = structuredClone(expected);
  for (const [slot, nic] of Object.entries(out.nics)) if (nic.mac === undefined) nic.mac = macs[slot];
  return out;
}

/** Defines the domain, reads libvirt's own rendering back and removes it again. */
function throughDaemon(spec: VirtualMachineSpec, ctx = ctxFor(spec)): { dumped: string } {
  const xml = buildDomainXml(spec, ctx);
  return withFile(xml, (file) => {
    virsh("define", file);
    try {
      return { dumped: virsh("dumpxml", "--inactive", "--security-info", spec.name) };
    } finally {
      tryVirsh("undefine", "--nvram", spec.name);
    }
  });
}

describe("libvirt XML against the real libvirtd 9.0 (define → dumpxml → parse)", function () {
  this.timeout(900_000);
  // The TPM emulator backend needs swtpm, which this testbed does not install.
  const haveSwtpm = run("sh", ["-c", "command -v swtpm"]).status === 0;
  const forDaemon = (spec: VirtualMachineSpec, name: string): VirtualMachineSpec => ({
    ...spec,
    name: `${TAG}-${name}`,
    firmware: { ...spec.firmware, tpm: spec.firmware.tpm && haveSwtpm },
  });

  before(function () {
    const r = run("bash", [path.join(REPO, "test/testbeds/libvirt.sh")], 900_000);
    assert.equal(r.status, 0, `libvirt.sh failed: ${r.stderr}${r.stdout}`);
  });

  for (const [name, base] of Object.entries(SPECS)) {
    it(`${name}: libvirt accepts the definition and its normalised XML parses back to the spec`, () => {
      const spec = forDaemon(base, name);
      const ctx = ctxFor(spec, { macs: { net2: "52:54:00:11:22:33" } });
      const { dumped } = throughDaemon(spec, ctx);
      const parsed = parseDomainXml(dumped);
      assert.deepEqual(canonicalCpuSets(projectParse(parsed)), canonicalCpuSets(withGeneratedMacs(expectedParse(spec, ctx), parsed.macs)));
      assert.match(parsed.machineType ?? "", /^pc-(q35|i440fx)-\d/);
      assert.ok(parsed.uuid);
    });
  }

  it("100 random specs survive libvirt's normalisation", () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const spec = forDaemon(randomSpec(seed), `r${seed}`);
      const ctx = ctxFor(spec, { type: "qemu" });
      const parsed = parseDomainXml(throughDaemon(spec, ctx).dumped);
      try {
        assert.deepEqual(canonicalCpuSets(projectParse(parsed)), canonicalCpuSets(withGeneratedMacs(expectedParse(spec, ctx), parsed.macs)));
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });

  it("libvirt keeps the network's ownership metadata, bridge and DHCP settings", () => {
    const name = `${TAG}-net`.slice(0, 40);
    const spec = NetworkInputs.parse({
      host: "kvm1", name, mode: "nat", cidr: "10.231.99.0/24",
      dhcp: { staticLeases: [{ mac: "52:54:00:00:99:01", ip: "10.231.99.10", hostname: "a" }] }, labels: { k: "v" },
    });
    withFile(buildNetworkXml(spec, { ownership: { resource: "urn:it" } }), (file) => virsh("net-define", file));
    try {
      const parsed = parseNetworkXml(virsh("net-dumpxml", name));
      assert.equal(parsed.mode, "nat");
      assert.equal(parsed.cidr, "10.231.99.0/24");
      assert.equal(parsed.ownership.owned, true);
      assert.deepEqual(parsed.labels, { k: "v" });
      assert.deepEqual(parsed.dhcp, { start: "10.231.99.128", end: "10.231.99.254", staticLeases: [{ mac: "52:54:00:00:99:01", ip: "10.231.99.10", hostname: "a" }] });
      assert.ok((parsed.bridge ?? "").length <= 15);
    } finally {
      tryVirsh("net-undefine", name);
    }
  });

  it("parses every PCI node device the daemon reports", () => {
    const names = virsh("nodedev-list", "--cap", "pci").split("\n").map((l) => l.trim()).filter((l) => l !== "");
    assert.ok(names.length > 0);
    for (const name of names) {
      const dev = parsePciNodeDeviceXml(virsh("nodedev-dumpxml", name));
      assert.equal(`pci_${dev?.addressText.replace(/[:.]/g, "_")}`, name);
      assert.match(dev?.vendorDevice ?? "", /^[0-9a-f]{4}:[0-9a-f]{4}$/);
    }
  });

  describe("a guest built entirely from these builders boots and takes a DHCP lease", () => {
    const poolDir = fs.mkdtempSync(path.join(os.tmpdir(), `${TAG}-pool-`));
    const poolName = `${TAG}-pool`;
    const netName = `${TAG}-lab`;
    const vmName = `${TAG}-boot`;
    const mac = "52:54:00:7e:57:01";
    let guest = "";

    before(function () {
      const r = run("bash", ["-c", `bash ${path.join(REPO, "test/testbeds/guest-image.sh")} | tail -1`], 900_000);
      assert.equal(r.status, 0, `guest-image.sh failed: ${r.stderr}`);
      guest = r.stdout.trim();
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
      fs.rmSync(poolDir, { recursive: true, force: true });
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

  describe("a domain using most of the builder starts under TCG", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TAG}-rich-`));
    const netName = `${TAG}-rich`;
    const vmName = `${TAG}-rich`;
    let guest = "";

    before(function () {
      const r = run("bash", ["-c", `bash ${path.join(REPO, "test/testbeds/guest-image.sh")} | tail -1`], 900_000);
      assert.equal(r.status, 0, `guest-image.sh failed: ${r.stderr}`);
      guest = r.stdout.trim();
    });

    after(() => {
      tryVirsh("destroy", vmName);
      tryVirsh("undefine", "--nvram", vmName);
      tryVirsh("net-destroy", netName);
      tryVirsh("net-undefine", netName);
      fs.rmSync(dir, { recursive: true, force: true });
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
          sockets: 2, cores: 1, maxVcpus: 4, mode: "host-passthrough",
          pinning: { "0": "0", "1": "1" }, emulatorPinning: "0-1",
          numa: [{ vcpus: "0", memoryMiB: 128, hostNode: 0 }, { vcpus: "1", memoryMiB: 128, hostNode: 0 }],
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
      const xml = buildDomainXml(spec, {
        type: "qemu",
        disks: { vda: file("a.qcow2", "qcow2"), scsi0: file("b.qcow2", "qcow2"), sdb: file("c.raw", "raw"), sata0: file("d.raw", "raw"), vdc: file("e.qcow2", "qcow2") },
        cloudInitSeed: seed,
        boot: { kernel: path.join(guest, "vmlinuz"), initrd: path.join(guest, "initrd.img"), cmdline: "console=ttyS0" },
        ownership: { resource: "urn:it" },
      });
      withFile(xml, (f) => virsh("define", f));
      virsh("start", vmName);
      assert.match(virsh("domstate", vmName), /running/);
      const live = parseDomainXml(virsh("dumpxml", "--security-info", vmName));
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
});
