import assert from "node:assert/strict";
import { collectMetrics, type VmMetrics } from "../../../provider/drivers/libvirt/metrics";
import { closeAllDrivers } from "../../../provider/drivers/registry";
import { getVmMetrics } from "../../../sdk/functions";
import { eventually, startTestGuest, URI, type TestGuest } from "./guest";

const KIB_PER_MIB = 1024;

/**
 * VM counters from libvirt's all-domain statistics, against a running testbed guest with a
 * blank disk and a NIC on an isolated network (the guest takes a DHCP lease, so both
 * directions of the NIC have traffic).
 */
describe("libvirt VM metrics (connectGetAllDomainStats)", function () {
  this.timeout(300_000);
  let guest: TestGuest;
  const savedHosts = process.env.NOVACRON_HOSTS;

  before(async () => {
    guest = await startTestGuest("met", { disk: true, nic: true, memoryMiB: 192 });
    process.env.NOVACRON_HOSTS = JSON.stringify({ kvm: { driver: "libvirt", uri: URI } });
  });

  after(async () => {
    if (savedHosts === undefined) delete process.env.NOVACRON_HOSTS;
    else process.env.NOVACRON_HOSTS = savedHosts;
    await closeAllDrivers();
    await guest?.destroy();
  });

  const ours = (all: VmMetrics[]) => {
    const found = all.find((m) => m.uuid === guest.uuid);
    assert.ok(found, `the guest ${guest.name} is among ${all.length} domains`);
    return found;
  };

  it("CPU time grows between two polls; vCPUs and state are reported", async () => {
    const first = ours(await guest.driver.collectMetrics());
    await new Promise((r) => setTimeout(r, 2000));
    const second = ours(await guest.driver.collectMetrics());
    assert.equal(second.name, guest.name);
    assert.equal(second.state, 1, "running");
    assert.ok(first.cpuTimeNs > 0, `cpu time ${first.cpuTimeNs}`);
    assert.ok(second.cpuTimeNs > first.cpuTimeNs, `cpu time ${first.cpuTimeNs} → ${second.cpuTimeNs}`);
    // Two seconds of wall time can hold at most two vCPUs' plus the emulator's worth of CPU.
    assert.ok(second.cpuTimeNs - first.cpuTimeNs < 8e9, `grew by ${second.cpuTimeNs - first.cpuTimeNs} ns`);
    assert.deepEqual(
      second.vcpus.map((v) => [v.id, v.state]),
      [
        [0, 1],
        [1, 1],
      ],
    );
    assert.ok(
      second.vcpus.every((v) => v.timeNs > 0),
      JSON.stringify(second.vcpus),
    );
  });

  it("balloon: current and maximum are the VM's memory; the guest driver reports its own view", async () => {
    const m = await eventually(
      async () => ours(await guest.driver.collectMetrics()),
      (v) => v.balloon.availableKiB !== undefined,
      60_000,
      "guest balloon stats",
    );
    assert.equal(m.balloon.currentKiB, 192 * KIB_PER_MIB);
    assert.equal(m.balloon.maximumKiB, 192 * KIB_PER_MIB);
    assert.ok(m.balloon.availableKiB! > 64 * KIB_PER_MIB && m.balloon.availableKiB! <= 192 * KIB_PER_MIB, `available ${m.balloon.availableKiB}`);
    assert.ok(m.balloon.unusedKiB! > 0 && m.balloon.unusedKiB! < m.balloon.availableKiB!, `unused ${m.balloon.unusedKiB}`);
    assert.ok(m.balloon.rssKiB! > 0, `rss ${m.balloon.rssKiB}`);
  });

  it("the NIC counts the DHCP exchange in both directions; the disk is listed with its path and size", async () => {
    assert.ok(guest.ipAddress, "the guest took a lease");
    const m = ours(await guest.driver.collectMetrics());
    assert.equal(m.nics.length, 1);
    const nic = m.nics[0];
    assert.match(nic.name, /^vnet\d+$/, "the host-side tap");
    assert.ok(nic.rxBytes > 0 && nic.rxPackets > 0, `rx ${nic.rxBytes} B / ${nic.rxPackets} pkts`);
    assert.ok(nic.txBytes > 0 && nic.txPackets > 0, `tx ${nic.txBytes} B / ${nic.txPackets} pkts`);
    // A DHCP exchange is a few hundred bytes per packet, not kilobytes.
    assert.ok(nic.rxBytes / nic.rxPackets < 1600, `rx ${nic.rxBytes} B in ${nic.rxPackets} packets`);
    assert.equal(m.disks.length, 1);
    const disk = m.disks[0];
    assert.equal(disk.name, "vda");
    assert.match(disk.path ?? "", new RegExp(`${guest.name}-vda\\.qcow2$`));
    assert.equal(disk.capacityBytes, 2 ** 30);
    // The guest kernel never loads virtio_blk, yet the firmware reads the first sector while
    // booting (consistently, with this SeaBIOS): guest-side I/O the counters must show.
    assert.ok(disk.readRequests >= 1 && disk.readBytes >= 512, `read ${disk.readBytes} B in ${disk.readRequests} requests`);
    assert.equal(disk.writeBytes, 0, "nothing in the guest writes to it");
  });

  it("can be narrowed to some domains, and the SDK function returns the same VM", async () => {
    const client = await guest.driver.session.get();
    const { dom } = await client.call("domainLookupByUuid", { uuid: guest.uuid });
    const only = await collectMetrics(guest.driver.session, [dom]);
    assert.deepEqual(
      only.map((m) => m.uuid),
      [guest.uuid],
    );
    const viaSdk = ours(await getVmMetrics("kvm"));
    assert.equal(viaSdk.name, guest.name);
    assert.equal(viaSdk.balloon.currentKiB, 192 * KIB_PER_MIB);
  });
});
