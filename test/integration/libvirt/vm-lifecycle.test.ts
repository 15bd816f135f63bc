import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { seedInstanceId } from "../../../provider/core/cloud-init";
import { ProviderHost } from "../../support/provider-host";
import { eventually, qemuPid, specOf, testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

const URI = "qemu:///system";
type Props = Record<string, unknown>;

/**
 * The whole KVM/QEMU path through Pulumi's real provider host and the real libvirtd + QEMU (TCG):
 * pool, volumes (blank + clone), an isolated network, a VM booting the testbed guest with a
 * cloud-init seed, live updates, drift, and teardown.
 */
describe("libvirt driver through the provider host (qemu:///system)", function () {
  this.timeout(600_000);
  const prefix = uniquePrefix("vm");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  // A subnet of its own per run, so a leftover network of an aborted run never collides.
  const subnet = `10.231.${20 + (process.pid % 200)}`;
  let host: ProviderHost;
  let guest: string;
  const made: { kind: Parameters<ProviderHost["delete"]>[0]; id: string; props: Props }[] = [];
  let vm: { id: string; outs: Props };

  before(async () => {
    testbed("libvirt.sh");
    guest = testbed("guest-image.sh");
    mkdirSync(poolDir, { recursive: true });
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ kvm: { driver: "libvirt", uri: URI } }) });
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.props).catch((e) => console.error(`cleanup ${r.kind}: ${e}`));
    await host?.stop();
    rmSync(poolDir, { recursive: true, force: true });
  });

  /** The instance-id in the seed ISO NovaCron wrote for the web VM, read with isoinfo (Joliet names). */
  function seedInstanceIdOnDisk(): string {
    const metaData = execFileSync("isoinfo", ["-J", "-i", `${poolDir}/${prefix}-web-cidata.iso`, "-x", "/meta-data"], { encoding: "utf8" });
    return /^instance-id: (\S+)$/m.exec(metaData)?.[1] ?? "";
  }

  async function create(kind: Parameters<ProviderHost["create"]>[0], spec: Props) {
    const result = await host.checkAndCreate(kind, spec);
    made.push({ kind, id: result.id, props: result.outs });
    return result;
  }

  it("creates a pool, a base volume and a clone of it", async () => {
    const pool = await create("StoragePool", { host: "kvm", name: `${prefix}-pool`, kind: "dir", path: poolDir });
    assert.match(virsh(URI, "pool-info", `${prefix}-pool`), /State:\s+running/);
    assert.equal(pool.outs.state, "running");
    await create("Volume", { host: "kvm", pool: `${prefix}-pool`, name: "base.qcow2", sizeGiB: 1 });
    const root = await create("Volume", { host: "kvm", pool: `${prefix}-pool`, name: "root.qcow2", cloneFrom: "base.qcow2" });
    assert.equal(root.id, `${poolDir}/root.qcow2`);
    assert.match(virsh(URI, "vol-list", `${prefix}-pool`), /root\.qcow2/);
  });

  it("creates an isolated network with DHCP", async () => {
    await create("Network", { host: "kvm", name: `${prefix}-net`, mode: "isolated", cidr: `${subnet}.0/24`, dhcp: {} });
    assert.match(virsh(URI, "net-info", `${prefix}-net`), /Active:\s+yes/);
  });

  it("creates a running VM with a cloned disk, the network, a cloud-init seed, pinning and multiqueue", async () => {
    vm = await create("VirtualMachine", {
      host: "kvm",
      name: `${prefix}-web`,
      machine: "pc",
      cpu: { cores: 2, maxVcpus: 4, pinning: { "0": "0", "1": "1" }, emulatorPinning: "0-1" },
      memory: { sizeMiB: 192, maxMiB: 384, balloon: { statsPeriodSeconds: 5 } },
      disks: { vda: { volume: `${poolDir}/root.qcow2` } },
      nics: { net0: { network: `${prefix}-net`, queues: 2 } },
      kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0" },
      cloudInit: { userData: "#cloud-config\npassword: hunter2-known\n" },
      waitForIp: { timeoutSeconds: 120 },
      updatePolicy: { shutdownTimeoutSeconds: 2 },
    });
    assert.match(virsh(URI, "domstate", `${prefix}-web`), /running/);
    assert.ok(String(vm.outs.ipAddress).startsWith(`${subnet}.`), `ip ${String(vm.outs.ipAddress)}`);
    const leases = virsh(URI, "net-dhcp-leases", `${prefix}-net`);
    assert.ok(leases.includes(String(vm.outs.ipAddress)), "the address is the network's own DHCP lease");
    const xml = virsh(URI, "dumpxml", `${prefix}-web`);
    assert.match(xml, /<vcpupin vcpu='0' cpuset='0'\/>/);
    assert.match(xml, /<vcpupin vcpu='1' cpuset='1'\/>/);
    assert.match(xml, /<emulatorpin cpuset='0-1'\/>/);
    assert.match(xml, /<vcpu placement='static' current='2'>4<\/vcpu>/);
    assert.match(xml, /<driver name='qemu' queues='2'\/>/);
    assert.match(xml, /cidata\.iso/, "the cloud-init seed is attached");
    // The guest sees its instance-id; it is keyed by this VM's salt, not a bare hash of the user data.
    const userData = "#cloud-config\npassword: hunter2-known\n";
    assert.equal(seedInstanceIdOnDisk(), seedInstanceId(userData, undefined, undefined, seedSaltOf(xml)));
    assert.notEqual(seedInstanceIdOnDisk(), seedInstanceId(userData), "not the unsalted id a guest could recompute");
  });

  it("starts a NUMA + hugepages tuned VM whose memory comes from hugetlbfs", async () => {
    // test/testbeds/libvirt.sh mounts hugetlbfs and reserves 2 MiB pages before libvirtd starts.
    assert.ok(hugepagesAvailableMiB() >= 512, "no hugetlbfs with 512 MiB of free 2 MiB pages: see test/testbeds/libvirt.sh's warnings");
    await create("VirtualMachine", {
      host: "kvm",
      name: `${prefix}-tuned`,
      cpu: {
        sockets: 2,
        cores: 2,
        numa: [
          { vcpus: "0-1", memoryMiB: 256, hostNode: 0 },
          { vcpus: "2-3", memoryMiB: 256, hostNode: 0 },
        ],
      },
      memory: { sizeMiB: 512, hugepages: { pageSizeKiB: 2048 } },
      disks: { vda: { pool: `${prefix}-pool`, sizeGiB: 1 } },
      nics: { net0: { network: `${prefix}-net`, queues: 4 } },
      powerState: "running",
      updatePolicy: { shutdownTimeoutSeconds: 0 },
    });
    const xml = virsh(URI, "dumpxml", `${prefix}-tuned`);
    assert.match(xml, /<cell id='0' cpus='0-1' memory='262144' unit='KiB'\/>/);
    assert.match(xml, /<cell id='1' cpus='2-3' memory='262144' unit='KiB'\/>/);
    assert.match(xml, /<memnode cellid='1' mode='strict' nodeset='0'\/>/);
    assert.match(xml, /<page size='2048' unit='KiB'\/>/);
    assert.match(xml, /<driver name='qemu' queues='4'\/>/);
    assert.match(virsh(URI, "vol-list", `${prefix}-pool`), new RegExp(`${prefix}-tuned-vda\\.qcow2`), "the blank disk was made in the pool");
    assert.match(virsh(URI, "domstate", `${prefix}-tuned`), /^running/);
    // Each NUMA cell's RAM is a file on hugetlbfs, as QEMU was told on its command line.
    const cmdline = require("node:fs")
      .readFileSync(`/proc/${qemuPid(`${prefix}-tuned`)}/cmdline`, "utf8")
      .split("\0")
      .join(" ");
    const backends = cmdline.match(/memory-backend-file[^ ]*"mem-path":"\/dev\/hugepages\/[^"]+"[^ ]*"size":268435456/g) ?? [];
    assert.equal(backends.length, 2, `one hugetlbfs backend of 256 MiB per cell in: ${cmdline}`);
  });

  it("a second create of the same VM (crash recovery) adopts it instead of duplicating", async () => {
    const again = await host.create("VirtualMachine", (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs);
    assert.equal(again.id, vm.id);
    assert.equal(
      virsh(URI, "list", "--all", "--name")
        .split("\n")
        .filter((n) => n === `${prefix}-web`).length,
      1,
    );
  });

  it("applies memory and vCPU changes live: same QEMU process", async () => {
    const pidBefore = qemuPid(`${prefix}-web`);
    const old = specOf(vm.outs);
    const next = { ...old, memory: { ...(old.memory as Props), sizeMiB: 256 }, cpu: { ...(old.cpu as Props), cores: 3 } };
    const { inputs, failures } = await host.check("VirtualMachine", old, next);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["cpu.cores: hotplug", "memory.sizeMiB: live"],
    );
    const diff = await host.diff("VirtualMachine", vm.id, vm.outs, inputs);
    assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    assert.equal(qemuPid(`${prefix}-web`), pidBefore, "the domain was never restarted");
    assert.match(virsh(URI, "vcpucount", `${prefix}-web`, "--live", "--active"), /^3\s*$/m);
    await eventually(() => assert.match(virsh(URI, "dommemstat", `${prefix}-web`), /^actual 262144$/m), 30_000);
    assert.equal(outs.lastChangeClass, "hotplug");
    vm = { id: vm.id, outs };
  });

  it("a reboot-class change is refused while reboots are forbidden, applied with a restart when allowed", async () => {
    const old = specOf(vm.outs);
    const refused = await host.check("VirtualMachine", old, { ...old, cpu: { ...(old.cpu as Props), mode: "host-passthrough" } });
    assert.equal(refused.failures[0]?.property, "cpu.mode");
    const pidBefore = qemuPid(`${prefix}-web`);
    const saltBefore = seedSaltOf(virsh(URI, "dumpxml", `${prefix}-web`, "--inactive"));
    const idBefore = seedInstanceIdOnDisk();
    const allowed = { ...old, cpu: { ...(old.cpu as Props), mode: "host-passthrough" }, updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 2 } };
    const { inputs, failures } = await host.check("VirtualMachine", old, allowed);
    assert.deepEqual(failures, []);
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    assert.notEqual(qemuPid(`${prefix}-web`), pidBefore, "restarted to apply the CPU mode");
    // Under TCG libvirt records host-passthrough as its emulated equivalent, mode 'maximum'.
    assert.match(virsh(URI, "dumpxml", `${prefix}-web`, "--inactive"), /<cpu mode='(host-passthrough|maximum)'/);
    assert.equal(outs.lastChangeClass, "reboot");
    // Same user data, same salt after the redefinition: cloud-init does not see a new instance.
    assert.equal(seedSaltOf(virsh(URI, "dumpxml", `${prefix}-web`, "--inactive")), saltBefore);
    assert.equal(seedInstanceIdOnDisk(), idBefore);
    vm = { id: vm.id, outs };
  });

  it("a replace-class change is reported as a replace", async () => {
    const old = specOf(vm.outs);
    const { inputs } = await host.check("VirtualMachine", old, { ...old, firmware: { type: "uefi", secureBoot: false, tpm: false } });
    const diff = await host.diff("VirtualMachine", vm.id, vm.outs, inputs);
    assert.deepEqual(diff.replaces, ["firmware"]);
  });

  it("read reports an out-of-band virsh edit as drift, and no edit as no change", async () => {
    const steady = await host.read("VirtualMachine", vm.id, vm.outs);
    const same = await host.diff("VirtualMachine", vm.id, steady.props, (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs);
    assert.equal(same.changes, false, "a second apply with no edits makes no change");
    virsh(URI, "setmaxmem", `${prefix}-web`, "524288", "--config");
    const drifted = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal((drifted.inputs.memory as { maxMiB: number }).maxMiB, 512);
    const back = await host.diff("VirtualMachine", vm.id, drifted.props, (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs);
    assert.equal(back.changes, true);
  });

  it("deletes the VM: graceful shutdown with a deadline, then undefine; the seed goes too", async () => {
    const entry = made.find((m) => m.kind === "VirtualMachine")!;
    await host.delete("VirtualMachine", vm.id, vm.outs);
    made.splice(made.indexOf(entry), 1);
    assert.equal(virshMaybe(URI, "dominfo", `${prefix}-web`), undefined);
    assert.doesNotMatch(virsh(URI, "vol-list", `${prefix}-pool`), /cidata/);
  });
});

function seedSaltOf(xml: string): string {
  const salt = /<novacron:extra key=["']seed-salt["'] value=["']([0-9a-f]{32})["']\/>/.exec(xml)?.[1];
  assert.ok(salt, "NovaCron's metadata holds the seed salt");
  return salt;
}

/** Free 2 MiB hugepages on a mounted hugetlbfs, in MiB; 0 without a mount. */
function hugepagesAvailableMiB(): number {
  const fs = require("node:fs") as typeof import("node:fs");
  if (!/ hugetlbfs /.test(fs.readFileSync("/proc/mounts", "utf8"))) return 0;
  const free = /HugePages_Free:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  return free ? Number(free[1]) * 2 : 0;
}
