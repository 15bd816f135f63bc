import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { ProviderHost } from "../../support/provider-host";
import { qemuPid, specOf, testbed, uniquePrefix, virsh } from "../../support/testbeds";

const URI = "qemu:///system";
const GIB = 1024 ** 3;
type Props = Record<string, unknown>;

/** `virsh vol-info --bytes` capacity of a volume, after a pool refresh (QEMU grew the file itself). */
function volumeBytes(pool: string, name: string): number {
  virsh(URI, "pool-refresh", pool);
  return Number(/Capacity:\s+(\d+) bytes/.exec(virsh(URI, "vol-info", "--bytes", "--pool", pool, name))?.[1]);
}

/**
 * Disk size and disk removal on the real libvirtd + QEMU: a grown disk is really bigger (as the
 * running guest's block device and as the volume), live without a restart and offline through the
 * pool; a live detach the guest does not acknowledge (this guest has no OS) is waited for, then
 * reported, and the disk is gone from the definition.
 */
describe("libvirt: disks grow and detach for real", function () {
  this.timeout(180_000);
  const prefix = uniquePrefix("dsk");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const poolName = `${prefix}-pool`;
  const name = `${prefix}-vm`;
  let host: ProviderHost;
  const made: { kind: "StoragePool" | "VirtualMachine"; id: string; props: Props }[] = [];
  let vm: { id: string; outs: Props };

  before(async () => {
    testbed("libvirt.sh");
    mkdirSync(poolDir, { recursive: true });
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ kvm: { driver: "libvirt", uri: URI } }) });
    const pool = await host.checkAndCreate("StoragePool", { host: "kvm", name: poolName, kind: "dir", path: poolDir });
    made.push({ kind: "StoragePool", id: pool.id, props: pool.outs });
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.props).catch((e) => console.error(`cleanup ${r.kind}: ${e}`));
    await host?.stop();
    rmSync(poolDir, { recursive: true, force: true });
  });

  async function change(patch: (spec: Props) => Props): Promise<string[]> {
    const { inputs, failures } = await host.check("VirtualMachine", specOf(vm.outs), patch(specOf(vm.outs)));
    assert.deepEqual(failures, []);
    vm.outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
    return inputs.plannedChanges as string[];
  }
  const disks = (spec: Props) => spec.disks as Record<string, Props>;

  it("grows a running guest's disk live: same QEMU process, the guest's block device and the volume are bigger", async () => {
    const created = await host.checkAndCreate("VirtualMachine", {
      host: "kvm",
      name,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 128 },
      disks: { vda: { pool: poolName, sizeGiB: 1 } },
      updatePolicy: { shutdownTimeoutSeconds: 1 },
    });
    vm = created;
    made.push({ kind: "VirtualMachine", id: vm.id, props: vm.outs });
    const pid = qemuPid(name);
    const planned = await change((s) => ({ ...s, disks: { vda: { ...disks(s).vda, sizeGiB: 2 } } }));
    assert.match(planned.join("\n"), /disks\.vda\.sizeGiB: live/);
    assert.equal(qemuPid(name), pid, "the guest kept running");
    assert.match(virsh(URI, "domblkinfo", name, "vda"), new RegExp(`Capacity:\\s+${2 * GIB}\\b`));
    assert.equal(volumeBytes(poolName, `${name}-vda.qcow2`), 2 * GIB);
  });

  it("grows a stopped guest's disk through the storage pool", async () => {
    await change((s) => ({ ...s, powerState: "stopped" }));
    await change((s) => ({ ...s, disks: { vda: { ...disks(s).vda, sizeGiB: 3 } } }));
    assert.equal(volumeBytes(poolName, `${name}-vda.qcow2`), 3 * GIB);
    await change((s) => ({ ...s, powerState: "running" }));
    assert.match(virsh(URI, "domblkinfo", name, "vda"), new RegExp(`Capacity:\\s+${3 * GIB}\\b`));
  });

  it("a live detach the guest never acknowledges is waited for about 10 s, then warned about; the definition drops the disk", async () => {
    await change((s) => ({ ...s, disks: { ...disks(s), vdb: { pool: poolName, sizeGiB: 1 } } }));
    assert.match(virsh(URI, "domblklist", name), /vdb/);
    const pid = qemuPid(name);
    const logged = host.stderr.length;
    const started = Date.now();
    await change((s) => ({ ...s, disks: { vda: disks(s).vda } }));
    const waited = Date.now() - started;
    assert.equal(qemuPid(name), pid, "the guest kept running");
    assert.doesNotMatch(virsh(URI, "domblklist", "--inactive", name), /vdb/);
    const log = host.stderr.slice(logged).join("");
    if (/vdb/.test(virsh(URI, "domblklist", name))) {
      // No OS answers the ACPI unplug request: the provider waited, then said so.
      assert.match(log, /warning: the guest has not released disk vdb after 10 s/);
      assert.ok(waited >= 9_000, `waited ${waited} ms`);
    } else {
      assert.match(log, /disk vdb detached/);
    }
  });
});
