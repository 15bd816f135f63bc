import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { ProviderHost } from "../../support/provider-host";
import { qemuPid, specOf, testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

const SOURCE = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";
/** This machine's daemon, as the peer reaches it for a migration back (libvirt-peer.sh forwards it). */
const KVM1 = { driver: "libvirt", uri: SOURCE, peerUri: "qemu+tcp://10.213.0.1/system", migrationUri: "tcp://10.213.0.1" };
type Props = Record<string, unknown>;

/**
 * A `host` change through Pulumi's real provider host between two real libvirtd daemons (the
 * second one in its own network and mount namespaces): a running VM migrates live, a stopped
 * VM's definition moves, and neither is ever replaced.
 */
describe("libvirt host moves through the provider host (kvm1 → kvm2)", function () {
  this.timeout(600_000);
  const prefix = uniquePrefix("mig");
  let host: ProviderHost;
  let guest: string;
  const made: { name: string; id: string; outs: Props }[] = [];

  before(async () => {
    testbed("libvirt.sh");
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    guest = testbed("guest-image.sh");
    host = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({
        kvm1: KVM1,
        kvm2: { driver: "libvirt", uri: PEER, migrationUri: "tcp://10.213.0.2" },
      }),
    });
  });

  after(async () => {
    // Through the provider first (it knows the recorded host), then virsh on both hosts for
    // anything a failed step left behind.
    for (const vm of made) await host?.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup ${vm.name}: ${e}`));
    await host?.stop();
    for (const vm of made) {
      for (const uri of [SOURCE, PEER]) {
        virshMaybe(uri, "destroy", vm.name);
        virshMaybe(uri, "undefine", vm.name);
      }
    }
  });

  function spec(name: string, powerState: "running" | "stopped"): Props {
    return {
      host: "kvm1",
      name,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 192 },
      // No disk and no NIC: nothing host-local, so the guest can move without shared storage.
      kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0" },
      powerState,
      updatePolicy: { shutdownTimeoutSeconds: 2 },
    };
  }

  async function create(name: string, powerState: "running" | "stopped") {
    const result = await host.checkAndCreate("VirtualMachine", spec(name, powerState));
    const entry = { name, id: result.id, outs: result.outs };
    made.push(entry);
    return entry;
  }

  /** check → diff → update to kvm2 (plus `also`), asserting the host part of the plan on the way. */
  async function moveToKvm2(vm: { id: string; outs: Props }, expectedWhy: RegExp, also: Props = {}): Promise<Props> {
    const old = specOf(vm.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, ...also, host: "kvm2" });
    assert.deepEqual(failures, []);
    const planned = inputs.plannedChanges as string[];
    assert.equal(planned.length, 1 + Object.keys(also).length, JSON.stringify(planned));
    const hostLine = planned.find((line) => line.startsWith("host: "));
    assert.match(hostLine ?? "", /^host: migrate \(/);
    assert.match(hostLine ?? "", expectedWhy);
    const diff = await host.diff("VirtualMachine", vm.id, vm.outs, inputs);
    assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
    return host.update("VirtualMachine", vm.id, vm.outs, inputs);
  }

  it("migrates a running VM live to the other host, same domain, with measured figures", async () => {
    const name = `${prefix}-live`;
    const vm = await create(name, "running");
    assert.match(virsh(SOURCE, "domstate", name), /^running/);
    const bootedAt = Date.now();
    // Let the guest boot far enough to have dirtied real memory before it moves.
    await new Promise((r) => setTimeout(r, 5000));

    const outs = await moveToKvm2(vm, /live migration/);
    assert.match(virsh(PEER, "domstate", name), /^running/);
    assert.equal(virshMaybe(SOURCE, "domstate", name), undefined, "the source no longer has the domain (not even defined)");
    assert.match(virsh(PEER, "dominfo", name), /Persistent:\s+yes/, "the definition moved with it");
    assert.equal(virsh(PEER, "domuuid", name).trim(), vm.id, "the same domain, not a new one");
    assert.equal(outs.host, "kvm2");
    assert.equal(outs.state, "running");
    assert.equal(outs.lastChangeClass, "migrate");

    const m = outs.migration as { totalMs: number; downtimeMs: number; bytesMoved: number };
    assert.ok(m, "migration figures are in the outputs");
    const wallMs = Date.now() - bootedAt;
    assert.ok(m.totalMs > 0 && m.totalMs < wallMs, `totalMs ${m.totalMs}`);
    // The switchover pause is real (the guest stops at least once) and within the cap we set, plus slack for TCG.
    assert.ok(m.downtimeMs > 0 && m.downtimeMs < 1000 && m.downtimeMs < m.totalMs, `downtimeMs ${m.downtimeMs}`);
    // A booted guest has written its kernel and initramfs into RAM (tens of MiB); the rest
    // (still zero pages) costs almost nothing, so far less than the 192 MiB of RAM moves.
    assert.ok(m.bytesMoved > 8 * 2 ** 20 && m.bytesMoved < 192 * 2 ** 20, `bytesMoved ${m.bytesMoved}`);

    Object.assign(vm, { outs });
    const refreshed = await host.read("VirtualMachine", vm.id, outs);
    assert.equal(refreshed.id, vm.id, "refresh finds it on kvm2");
    assert.equal((refreshed.inputs as Props).host, "kvm2");
  });

  it("moves a stopped VM's definition and applies the rest of the update on the new host", async () => {
    const name = `${prefix}-cold`;
    const vm = await create(name, "stopped");
    assert.match(virsh(SOURCE, "domstate", name), /^shut off/);
    const outs = await moveToKvm2(vm, /definition moves/, { memory: { sizeMiB: 256 } });
    assert.match(virsh(PEER, "domstate", name), /^shut off/);
    assert.equal(virsh(PEER, "domuuid", name).trim(), vm.id);
    assert.equal(virshMaybe(SOURCE, "domstate", name), undefined, "undefined on the source");
    assert.match(virsh(PEER, "dumpxml", name, "--inactive"), /<memory unit='KiB'>262144<\/memory>/, "the memory change landed on kvm2");
    assert.equal(outs.migration, null, "nothing was migrated live");
    assert.equal(outs.state, "stopped");
    Object.assign(vm, { outs });
  });

  it("a live migration libvirt refuses (the VM's network exists only on kvm1) fails the update and leaves the VM running where it was", async () => {
    const net = await host.checkAndCreate("Network", { host: "kvm1", name: `${prefix}-net`, mode: "isolated", cidr: "10.233.77.0/24" });
    try {
      const name = `${prefix}-pinned`;
      const result = await host.checkAndCreate("VirtualMachine", { ...spec(name, "running"), nics: { net0: { network: `${prefix}-net` } } });
      const vm = { name, id: result.id, outs: result.outs };
      made.push(vm);
      const pidBefore = qemuPid(name);
      await assert.rejects(moveToKvm2(vm, /live migration/), /still runs on the source[\s\S]*network/i);
      assert.match(virsh(SOURCE, "domstate", name), /^running/);
      assert.equal(qemuPid(name), pidBefore, "the same QEMU process: never stopped");
      assert.equal(virshMaybe(PEER, "domstate", name), undefined, "nothing half-made on kvm2");
      await host.delete("VirtualMachine", vm.id, vm.outs);
      made.splice(made.indexOf(vm), 1);
    } finally {
      await host.delete("Network", net.id, net.outs);
    }
  });

  it("an update whose VM already moved (an interrupted earlier run) converges instead of failing", async () => {
    const name = `${prefix}-again`;
    const vm = await create(name, "running");
    // What a crash right after the migration, before Pulumi recorded it, leaves behind.
    execFileSync("virsh", ["-c", SOURCE, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", name, PEER, "tcp://10.213.0.2"], { timeout: 120_000 });
    assert.match(virsh(PEER, "domstate", name), /^running/);
    const outs = await moveToKvm2(vm, /live migration/);
    assert.equal(outs.host, "kvm2");
    assert.equal(outs.state, "running");
    assert.equal(outs.migration, null, "nothing left to migrate");
    Object.assign(vm, { outs });
  });

  it("refresh follows a VM migrated outside Pulumi, and the next up migrates it back instead of creating another", async () => {
    const name = `${prefix}-oob`;
    const vm = await create(name, "running");
    execFileSync("virsh", ["-c", SOURCE, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", name, PEER, "tcp://10.213.0.2"], { timeout: 120_000 });

    const refreshed = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(refreshed.id, vm.id, "still the same VM, not gone");
    assert.equal(refreshed.inputs.host, "kvm2", "recorded where it runs now");
    assert.equal(refreshed.props.state, "running");

    // The program still says kvm1: the way back is a live migration, never a replace.
    const { inputs, failures } = await host.check("VirtualMachine", refreshed.inputs, spec(name, "running"));
    assert.deepEqual(failures, []);
    assert.deepEqual(
      (inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["host: migrate"],
    );
    assert.deepEqual(await host.diff("VirtualMachine", vm.id, refreshed.props, inputs), { changes: true, replaces: [], deleteBeforeReplace: false });

    // Without peerUri, kvm1 is only qemu:///system, which would lead kvm2's libvirtd back to itself.
    const localOnly = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ kvm1: { driver: "libvirt", uri: SOURCE }, kvm2: { driver: "libvirt", uri: PEER } }) });
    try {
      await assert.rejects(
        localOnly.update("VirtualMachine", vm.id, refreshed.props, inputs),
        /cannot migrate to "kvm1": its uri qemu:\/\/\/system is local[\s\S]*set peerUri[\s\S]*Nothing was moved/,
      );
    } finally {
      await localOnly.stop();
    }
    assert.match(virsh(PEER, "domstate", name), /^running/, "still running on kvm2");

    const outs = await host.update("VirtualMachine", vm.id, refreshed.props, inputs);
    assert.equal(outs.host, "kvm1");
    assert.match(virsh(SOURCE, "domstate", name), /^running/);
    assert.equal(virsh(SOURCE, "domuuid", name).trim(), vm.id);
    assert.equal(virshMaybe(PEER, "dominfo", name), undefined, "nothing left on kvm2");

    await host.delete("VirtualMachine", vm.id, outs);
    made.splice(made.indexOf(vm), 1);
  });

  it("refresh prefers the running copy when a migration outside Pulumi left a stopped definition behind", async () => {
    const name = `${prefix}-stale`;
    const vm = await create(name, "running");
    // Without --undefinesource the source keeps an inactive definition of the same UUID.
    execFileSync("virsh", ["-c", SOURCE, "migrate", "--live", "--p2p", "--persistent", name, PEER, "tcp://10.213.0.2"], { timeout: 120_000 });
    assert.match(virsh(SOURCE, "domstate", name), /^shut off/);
    const refreshed = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(refreshed.inputs.host, "kvm2", "the running copy is the VM");
    assert.equal(refreshed.props.state, "running");
    await host.delete("VirtualMachine", vm.id, refreshed.props);
    made.splice(made.indexOf(vm), 1);
    virsh(SOURCE, "undefine", name);
  });

  it("refresh does not record a vanished VM as deleted while a host it may run on cannot be searched", async () => {
    const name = `${prefix}-gone`;
    const vm = await create(name, "stopped");
    virsh(SOURCE, "undefine", name);
    made.splice(made.indexOf(vm), 1);
    const partial = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({ kvm1: KVM1, kvm2: { driver: "libvirt", uri: PEER }, kvm3: { driver: "libvirt", uri: "qemu+tcp://127.0.0.1:1/system" } }),
    });
    try {
      await assert.rejects(
        partial.read("VirtualMachine", vm.id, vm.outs),
        /gone from host "kvm1", and it may run on a host that could not be searched: "kvm3"[\s\S]*not recorded as deleted/,
      );
    } finally {
      await partial.stop();
    }
    // With every host answering, it is gone.
    assert.equal((await host.read("VirtualMachine", vm.id, vm.outs)).id, "");
  });

  it("deletes the moved VMs on kvm2 through the provider", async () => {
    assert.equal(made.length, 3);
    for (const entry of [...made]) {
      assert.equal((entry.outs as Props).host, "kvm2");
      await host.delete("VirtualMachine", entry.id, entry.outs);
      made.splice(made.indexOf(entry), 1);
      assert.equal(virshMaybe(PEER, "dominfo", entry.name), undefined, `${entry.name} is gone from kvm2`);
      assert.equal(virshMaybe(SOURCE, "dominfo", entry.name), undefined);
    }
  });
});
