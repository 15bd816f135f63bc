import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { COMPUTED_OUTPUTS } from "../../../provider/core/model";
import { ProviderHost } from "../../support/provider-host";
import { spawnSync } from "node:child_process";
import { testbed, uniquePrefix, virsh } from "../../support/testbeds";

const URI = "qemu:///system";
type Props = Record<string, unknown>;

/**
 * Specs the real host cannot run (pinning to CPUs it lacks, binding to NUMA nodes it lacks,
 * devices it does not have, cells that do not fit the VM) are refused through Pulumi's real
 * provider host with the field named, and leave no domain and no volume behind: the checks run
 * before the blank disk and the cloud-init seed would be made, and before any define.
 */
describe("libvirt host checks on bad input (qemu:///system)", function () {
  this.timeout(300_000);
  const prefix = uniquePrefix("hc");
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const pool = `${prefix}-pool`;
  let host: ProviderHost;
  let cpus: number;
  const made: { kind: Parameters<ProviderHost["delete"]>[0]; id: string; props: Props }[] = [];

  before(async () => {
    testbed("libvirt.sh");
    mkdirSync(poolDir, { recursive: true });
    cpus = Number(/^CPU\(s\):\s+(\d+)$/m.exec(virsh(URI, "nodeinfo"))![1]);
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ kvm: { driver: "libvirt", uri: URI } }) });
    const created = await host.checkAndCreate("StoragePool", { host: "kvm", name: pool, kind: "dir", path: poolDir });
    made.push({ kind: "StoragePool", id: created.id, props: created.outs });
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.props).catch((e) => console.error(`cleanup ${r.kind} ${r.id}: ${e}`));
    await host?.stop();
    // Whatever a failing assertion may have left: domains and volumes with this run's prefix.
    for (const name of virsh(URI, "list", "--all", "--name")
      .split("\n")
      .filter((n) => n.startsWith(prefix))) {
      quietly("destroy", name);
      quietly("undefine", name, "--nvram");
    }
    quietly("pool-destroy", pool);
    quietly("pool-undefine", pool);
    rmSync(poolDir, { recursive: true, force: true });
  });

  /** A VM that would make a blank disk and a seed in the pool if the checks came too late. */
  function vmWith(name: string, extra: Props): Props {
    return {
      host: "kvm",
      name: `${prefix}-${name}`,
      machine: "pc",
      memory: { sizeMiB: 64 },
      disks: { vda: { pool, sizeGiB: 0.01 } },
      cloudInit: { userData: "#cloud-config\n" },
      powerState: "stopped",
      ...extra,
    };
  }

  async function refusedAtCreate(spec: Props): Promise<string> {
    const checked = await host.check("VirtualMachine", {}, spec);
    assert.deepEqual(checked.failures, [], "check() cannot know the host; the create must refuse");
    const message = await host.create("VirtualMachine", checked.inputs).then(
      (r) => {
        made.push({ kind: "VirtualMachine", id: r.id, props: r.outs });
        return undefined;
      },
      (error: Error) => error.message,
    );
    assert.ok(message !== undefined, `${String(spec.name)} should have been refused`);
    assertNothingLeft(String(spec.name));
    return message;
  }

  function assertNothingLeft(name: string): void {
    assert.ok(!virsh(URI, "list", "--all", "--name").split("\n").includes(name), `no domain ${name}`);
    virsh(URI, "pool-refresh", pool);
    const volumes = virsh(URI, "vol-list", pool);
    assert.ok(!volumes.includes(name), `no volume of ${name} in the pool:\n${volumes}`);
  }

  it("refuses pinning a vCPU to a host CPU that does not exist, naming the field and the host's CPUs", async () => {
    const missing = cpus + 5;
    const message = await refusedAtCreate(vmWith("pin", { cpu: { cores: 2, pinning: { "0": "0", "1": String(missing) }, emulatorPinning: `0-${cpus + 1}` } }));
    assert.match(message, new RegExp(`cpu\\.pinning\\.1: host CPU ${missing} does not exist; host "kvm" has CPUs 0-${cpus - 1}`));
    assert.match(message, new RegExp(`cpu\\.emulatorPinning: host CPUs? ${cpus}(-${cpus + 1})? do(es)? not exist`));
    assert.doesNotMatch(message, /cpu\.pinning\.0/, "vCPU 0 is pinned to a CPU the host has");
  });

  it("refuses a NUMA cell bound to a host node that does not exist", async () => {
    const message = await refusedAtCreate(
      vmWith("numa", {
        cpu: {
          cores: 2,
          numa: [
            { vcpus: "0", memoryMiB: 32, hostNode: 0 },
            { vcpus: "1", memoryMiB: 32, hostNode: 6 },
          ],
        },
      }),
    );
    assert.match(message, /cpu\.numa\.1\.hostNode: host NUMA node 6 does not exist; host "kvm" has NUMA nodes 0/);
    assert.doesNotMatch(message, /cpu\.numa\.0/);
  });

  it("refuses a passthrough device the host does not have", async () => {
    const message = await refusedAtCreate(vmWith("dev", { passthrough: { hostdev0: { device: "pci_0000_ee_1f_7" } } }));
    assert.match(message, /passthrough\.hostdev0\.device: no device "pci_0000_ee_1f_7" on host "kvm"/);
  });

  it("refuses a NUMA cell larger than its VM at check(), and at create if check is skipped", async () => {
    const spec = vmWith("cell", { cpu: { cores: 2, numa: [{ vcpus: "0-1", memoryMiB: 128 }] } });
    const checked = await host.check("VirtualMachine", {}, spec);
    assert.equal(checked.failures.length, 1);
    assert.equal(checked.failures[0].property, "cpu.numa");
    assert.match(checked.failures[0].reason, /the cells hold 128 MiB in all; they must add up to memory\.sizeMiB \(64\)/);
    // The engine never creates after failed checks; a create with the raw inputs is refused too.
    await assert.rejects(host.create("VirtualMachine", spec), /cpu\.numa/);
    assertNothingLeft(String(spec.name));
  });

  it("an update with a bad pinning is refused before the definition changes", async () => {
    const vm = await host.checkAndCreate("VirtualMachine", withoutSeed(vmWith("upd", { disks: {} })));
    made.push({ kind: "VirtualMachine", id: vm.id, props: vm.outs });
    const before = virsh(URI, "dumpxml", "--inactive", `${prefix}-upd`);
    // The program's inputs: what create recorded, less the outputs it computed.
    const old = Object.fromEntries(Object.entries(vm.outs).filter(([k]) => k !== "__provider" && !COMPUTED_OUTPUTS.VirtualMachine.includes(k)));
    const next = { ...old, cpu: { ...(old.cpu as Props), pinning: { "0": String(cpus) } } };
    const checked = await host.check("VirtualMachine", old, next);
    assert.deepEqual(checked.failures, []);
    await assert.rejects(
      host.update("VirtualMachine", vm.id, vm.outs, checked.inputs),
      new RegExp(`cpu\\.pinning\\.0: host CPU ${cpus} does not exist; host "kvm" has CPUs 0-${cpus - 1}`),
    );
    assert.equal(virsh(URI, "dumpxml", "--inactive", `${prefix}-upd`), before);
  });
});

function withoutSeed(spec: Props): Props {
  const { cloudInit, ...rest } = spec;
  return rest;
}

/** A cleanup step whose "not found" is expected: nothing printed, nothing thrown. */
function quietly(...args: string[]): void {
  spawnSync("virsh", ["-c", URI, ...args], { stdio: "ignore", timeout: 60_000 });
}
