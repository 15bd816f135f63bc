import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { ProviderHost } from "../../support/provider-host";
import { eventually, qemuPid, specOf, testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

const URI = "qemu:///system";
type Props = Record<string, unknown>;

/**
 * Issue 9: a VM NovaCron made, then changed by an administrator with everyday virsh commands
 * (attach-disk with no cache, a user-mode NIC, a macvtap NIC with an e1000 model, an IDE CD-ROM,
 * the <cpu> element removed). Refresh, a second `up`, an update and destroy must all go through
 * Pulumi's real provider host against the real libvirtd, and never need a state edit.
 */
describe("libvirt: a VM changed outside NovaCron stays refreshable, updatable and destroyable (qemu:///system)", function () {
  this.timeout(300_000);
  const prefix = `nc-refresh-${uniquePrefix("oob").slice(2)}`;
  const dir = `/var/lib/novacron-test/${prefix}`;
  const name = `${prefix}-vm`;
  let host: ProviderHost;
  let vm: { id: string; outs: Props };
  let refreshed: { id: string; props: Props; inputs: Props };
  const hostIface = defaultRouteInterface();
  /** The CPU model libvirt fills in for a domain with no <cpu>, if it does. */
  let defaultCpu: string | undefined;

  let guest: string;

  before(async () => {
    testbed("libvirt.sh");
    // A real kernel in the guest: hot-unplug needs a guest that answers the eject request.
    guest = testbed("guest-image.sh");
    mkdirSync(dir, { recursive: true });
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ kvm: { driver: "libvirt", uri: URI } }) });
    for (const iso of ["boot", "tools", "other"]) execFileSync("genisoimage", ["-quiet", "-o", `${dir}/${iso}.iso`, "-V", iso.toUpperCase(), "/etc/hostname"]);
  });

  after(async () => {
    if (virsh(URI, "list", "--all", "--name").split("\n").includes(name)) {
      virshMaybe(URI, "destroy", name);
      virshMaybe(URI, "undefine", name, "--nvram");
    }
    virshMaybe(URI, "pool-destroy", `${prefix}-pool`);
    virshMaybe(URI, "pool-undefine", `${prefix}-pool`);
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a running VM through the provider host", async () => {
    const pool = await host.checkAndCreate("StoragePool", { host: "kvm", name: `${prefix}-pool`, kind: "dir", path: dir });
    assert.equal(pool.outs.state, "running");
    const checked = await host.check(
      "VirtualMachine",
      {},
      {
        host: "kvm",
        name,
        machine: "pc",
        memory: { sizeMiB: 128 },
        disks: { vda: { pool: `${prefix}-pool`, sizeGiB: 1 } },
        // A CD-ROM the program writes itself: an IDE drive on the pc machine.
        cdroms: { hdb: { image: `${dir}/boot.iso` } },
        kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0" },
        updatePolicy: { shutdownTimeoutSeconds: 0 },
      },
    );
    assert.deepEqual(checked.failures, []);
    vm = await host.create("VirtualMachine", checked.inputs);
    assert.match(virsh(URI, "domstate", name), /^running/);
    assert.deepEqual(vm.outs.unmanaged, [], "a VM NovaCron made has nothing unmanaged");
  });

  it("an administrator changes it with virsh: attach-disk without cache, user and macvtap e1000 NICs, an IDE CD-ROM, no <cpu>", () => {
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", `${dir}/extra.img`, "16M"]);
    virsh(URI, "attach-disk", name, `${dir}/extra.img`, "vdb", "--persistent");
    writeFileSync(`${dir}/user-nic.xml`, "<interface type='user'><model type='e1000'/></interface>\n");
    virsh(URI, "attach-device", name, `${dir}/user-nic.xml`, "--persistent");
    // A macvtap NIC on the host's uplink; --config only, so the test needs no macvtap support live.
    virsh(URI, "attach-interface", name, "direct", hostIface, "--model", "e1000", "--config");
    virsh(URI, "attach-disk", name, `${dir}/tools.iso`, "hdc", "--type", "cdrom", "--mode", "readonly", "--config");
    const inactive = virsh(URI, "dumpxml", name, "--inactive");
    // Removing <cpu> and adding a password-protected SPICE console, as `virsh edit` would.
    const noCpu = inactive
      .replace(/<cpu(\s[^>]*)?\/>|<cpu(\s[^>]*)?>[\s\S]*?<\/cpu>/, "")
      .replace("</devices>", "<graphics type='spice' autoport='yes' passwd='oob-Secret1'><image compression='off'/></graphics></devices>");
    assert.notEqual(noCpu, inactive, "the domain had a <cpu> element to remove");
    writeFileSync(`${dir}/edited.xml`, noCpu);
    virsh(URI, "define", `${dir}/edited.xml`);
    const now = virsh(URI, "dumpxml", name, "--inactive");
    // libvirt 9 writes its default CPU back in (TCG: custom qemu64, check none); older ones leave none.
    assert.doesNotMatch(now, /<cpu mode='host-model'/);
    defaultCpu = /<cpu mode='custom'[^>]*>\s*<model[^>]*>([^<]+)<\/model>/.exec(now)?.[1];
    assert.doesNotMatch(diskBlock(now, "vdb"), /cache=/, "the attached disk has no cache mode");
  });

  it("refresh records every change in a form the model accepts, and names what it keeps unmanaged", async () => {
    refreshed = await host.read("VirtualMachine", vm.id, vm.outs);
    assert.equal(refreshed.id, vm.id);
    const spec = refreshed.inputs as { cpu: Props; disks: Record<string, Props>; nics: Record<string, Props> };
    // Either way the hypervisor's own default is recorded as the host has it, never a shape the model refuses.
    if (defaultCpu === undefined) assert.equal(spec.cpu.mode, "hypervisor-default");
    else assert.deepEqual([spec.cpu.mode, spec.cpu.model], ["custom", defaultCpu]);
    assert.equal(spec.disks.vdb.cache, "hypervisor-default");
    assert.equal(spec.disks.vdb.volume, `${dir}/extra.img`);
    assert.equal(spec.disks.vdb.bus, "virtio-blk");
    assert.deepEqual(Object.keys(spec.nics).sort(), ["net0", "net1"]);
    const user = Object.values(spec.nics).find((n) => n.user === true);
    const direct = Object.values(spec.nics).find((n) => n.direct !== undefined);
    assert.deepEqual(user?.model, "e1000");
    assert.deepEqual(direct?.direct, { device: hostIface, mode: "vepa" });
    assert.equal(direct?.model, "e1000");
    assert.deepEqual(JSON.parse(JSON.stringify(refreshed.inputs.cdroms)), {
      hdb: { bus: "ide", image: `${dir}/boot.iso` },
      hdc: { bus: "ide", image: `${dir}/tools.iso` },
    });
    assert.deepEqual(refreshed.props.unmanaged, ["graphics spice: kept as it is (only one plain VNC or SPICE console is managed)"]);
    assert.doesNotMatch(JSON.stringify(refreshed), /oob-Secret1/, "a preserved console's password never reaches state");
    // The recorded state passes the next check as old inputs and as new ones: nothing wedges.
    const again = await host.read("VirtualMachine", vm.id, refreshed.props);
    assert.deepEqual(again.inputs, refreshed.inputs, "a second refresh reads the same");
  });

  it("a program that takes the changes in plans no change; the unchanged program plans a clear change", async () => {
    const adopted = await host.check("VirtualMachine", refreshed.inputs, specOf(refreshed.inputs));
    assert.deepEqual(adopted.failures, []);
    const same = await host.diff("VirtualMachine", vm.id, refreshed.props, adopted.inputs);
    assert.equal(same.changes, false);
    const original = await host.check("VirtualMachine", refreshed.inputs, specOf(vm.outs));
    // Going back to the program's host-model CPU is a reboot-class change: refused clearly while reboots are off.
    // So is dropping the IDE CD-ROM (no IDE hot-unplug).
    assert.deepEqual(original.failures.map((f) => f.property).sort(), ["cdroms.hdc", "cpu.mode", ...(defaultCpu === undefined ? [] : ["cpu.model"])]);
    assert.match(original.failures[0].reason, /restart|reboot/);
  });

  it("an update keeps every device it does not manage, and leaves the out-of-band ones as they are", async () => {
    const next = { ...specOf(refreshed.inputs), labels: { team: "ops" } };
    const checked = await host.check("VirtualMachine", refreshed.inputs, next);
    assert.deepEqual(checked.failures, []);
    const outs = await host.update("VirtualMachine", vm.id, refreshed.props, checked.inputs);
    const xml = virsh(URI, "dumpxml", name, "--inactive");
    assert.match(xml, /<disk type='file' device='cdrom'>[\s\S]*?tools\.iso[\s\S]*?<target dev='hdc' bus='ide'\/>/, "the CD-ROM is still there");
    assert.match(xml, /<interface type='user'>[\s\S]*?<model type='e1000'\/>/);
    assert.match(xml, new RegExp(`<interface type='direct'>[\\s\\S]*?<source dev='${hostIface}' mode='vepa'\\/>[\\s\\S]*?<model type='e1000'\\/>`));
    if (defaultCpu === undefined) assert.doesNotMatch(xml, /<cpu[ >][\s\S]*?<model/, "no CPU model was invented");
    else assert.match(xml, new RegExp(`<cpu mode='custom'[^>]*>\\s*<model[^>]*>${defaultCpu}</model>`), "the CPU libvirt had stays");
    const vdb = diskBlock(xml, "vdb");
    assert.match(vdb, /extra\.img/);
    assert.doesNotMatch(vdb, /cache=/, "no cache mode was invented");
    assert.match(xml, /team/);
    assert.match(virsh(URI, "dumpxml", name, "--inactive", "--security-info"), /<graphics type='spice'[^>]*passwd='oob-Secret1'/, "the preserved console keeps its password");
    assert.doesNotMatch(JSON.stringify(outs) + host.stderr.join(""), /oob-Secret1/);
    assert.deepEqual(outs.unmanaged, refreshed.props.unmanaged);
    assert.match(virsh(URI, "domstate", name), /^running/);
    const after = await host.read("VirtualMachine", vm.id, outs);
    const plan = await host.diff("VirtualMachine", vm.id, after.props, checked.inputs);
    assert.equal(plan.changes, false, "the next up after the update is a no-op");
    vm = { id: vm.id, outs };
  });

  it("changing the disc in the CD-ROM drive is live: same QEMU process, the guest sees the new disc", async () => {
    const spec = specOf(vm.outs) as { cdroms: Record<string, Props> };
    // hdb is in the running guest; hdc was attached with --config and waits for the next start.
    const next = { ...spec, cdroms: { hdb: { ...spec.cdroms.hdb, image: `${dir}/other.iso` }, hdc: { ...spec.cdroms.hdc, image: `${dir}/boot.iso` } } };
    const checked = await host.check("VirtualMachine", spec, next);
    assert.deepEqual(checked.failures, []);
    assert.deepEqual(
      (checked.inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]),
      ["cdroms.hdb.image: live", "cdroms.hdc.image: live"],
    );
    const pid = qemuPid(name);
    const stderrBefore = host.stderr.length;
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs);
    assert.equal(qemuPid(name), pid, "never restarted");
    assert.match(virsh(URI, "domblklist", name), /hdb\s+\S*other\.iso/);
    assert.match(virsh(URI, "domblklist", name, "--inactive"), /hdb\s+\S*other\.iso/);
    assert.match(virsh(URI, "domblklist", name, "--inactive"), /hdc\s+\S*boot\.iso/);
    assert.match(host.stderr.slice(stderrBefore).join(""), /CD-ROM hdc is not in the running guest/);
    vm = { id: vm.id, outs };
  });

  it("a program that drops the added disk and NICs detaches them (the live one hot, the config-only one from the definition)", async () => {
    const spec = specOf(vm.outs) as { disks: Record<string, Props>; nics: Record<string, Props> };
    const next = { ...spec, disks: { vda: spec.disks.vda }, nics: {} };
    const checked = await host.check("VirtualMachine", spec, next);
    assert.deepEqual(checked.failures, []);
    assert.deepEqual((checked.inputs.plannedChanges as string[]).map((c) => c.split(" (")[0]).sort(), ["disks.vdb: hotplug", "nics.net0: hotplug", "nics.net1: hotplug"]);
    const stderrBefore = host.stderr.length;
    const outs = await host.update("VirtualMachine", vm.id, vm.outs, checked.inputs);
    const log = host.stderr.slice(stderrBefore).join("");
    assert.match(log, /detaching disk vdb/);
    assert.match(log, /NIC net\d is not in the running guest \(only in its definition\)/, "the --config macvtap NIC was never live");
    const inactive = virsh(URI, "dumpxml", name, "--inactive");
    assert.doesNotMatch(inactive, /extra\.img/);
    assert.doesNotMatch(inactive, /<interface type='(user|direct)'>/);
    // The guest kernel completes the unplug (ACPI eject) on its own time.
    await eventually(() => {
      const live = virsh(URI, "dumpxml", name);
      assert.doesNotMatch(live, /extra\.img/);
      assert.doesNotMatch(live, /<interface type='user'>/);
    }, 60_000);
    assert.match(inactive, /other\.iso/, "the CD-ROM stays");
    assert.match(virsh(URI, "domstate", name), /^running/);
    vm = { id: vm.id, outs };
  });

  it('delete of a state an older version wrote (disks.vdb.cache "default", an unknown field) still deletes the VM', async () => {
    const disks = vm.outs.disks as Record<string, Props>;
    // What the refresh recorded: a disk attached by virsh with cache "default".
    const broken = { ...vm.outs, disks: { ...disks, vdb: { volume: `${dir}/extra.img`, cache: "default" } }, somethingOld: 1 };
    const stderrBefore = host.stderr.length;
    const read = await host.read("VirtualMachine", vm.id, broken);
    assert.equal(read.id, vm.id, "refresh of the broken state works");
    assert.match(host.stderr.slice(stderrBefore).join(""), /warning: refresh goes on without recorded parts .*disks\.vdb\.cache/);
    await host.delete("VirtualMachine", vm.id, broken);
    assert.equal(virshMaybe(URI, "dominfo", name), undefined, "virsh shows the VM gone");
    assert.doesNotMatch(virsh(URI, "vol-list", `${prefix}-pool`), new RegExp(`${name}-vda`), "the blank disk NovaCron made went with it");
  });
});

/** The <disk> element whose target is `dev`. */
function diskBlock(xml: string, dev: string): string {
  const block = xml.split("</disk>").find((part) => part.includes(`<target dev='${dev}'`)) ?? "";
  assert.ok(block !== "", `no disk ${dev} in the domain`);
  return block.slice(block.lastIndexOf("<disk"));
}

/** The host's uplink: a real interface macvtap can sit on. */
function defaultRouteInterface(): string {
  const route = execFileSync("ip", ["-o", "route", "show", "default"], { encoding: "utf8" });
  return /\bdev (\S+)/.exec(route)?.[1] ?? "eth0";
}
