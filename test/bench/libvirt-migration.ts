import type { OperationContext } from "../../provider/core/driver";
import type { HostConfig } from "../../provider/core/hosts";
import { RESOURCE_MODELS, type VirtualMachineSpec } from "../../provider/core/model";
import { classifyChange } from "../../provider/core/classify";
import { LibvirtDriver, openLibvirtDriver } from "../../provider/drivers/libvirt/driver";
import { collectMetrics } from "../../provider/drivers/libvirt/metrics";
import type { MigrationResult } from "../../provider/drivers/libvirt/migration";
import { LIBVIRT_CAPABILITIES } from "../../provider/drivers/libvirt/capabilities";
import { testbed, uniquePrefix, virshMaybe } from "../support/testbeds";
import type { BenchResult } from "./types";

const SOURCE: HostConfig = { driver: "libvirt", uri: "qemu:///system" };
const PEER: HostConfig = { driver: "libvirt", uri: "qemu+tcp://10.213.0.2/system", migrationUri: "tcp://10.213.0.2" };
const SIZES_GIB = [1, 10];
const TOTAL_TARGET_MS = 60_000;
const DOWNTIME_TARGET_MS = 200;

/**
 * Live migration of an idle guest between the two testbed libvirt hosts (TCG), through the same
 * path a `host` change takes (LibvirtVmResource.update → migrateLive, peer-to-peer). The guest
 * boots the testbed kernel + initramfs and has touched only a few hundred MiB of its RAM: the rest
 * is zero pages, which QEMU detects and sends as flags, so total time should grow far slower than
 * the RAM size. Figures are libvirt's own (the destination's completed-job statistics).
 */
export async function run(): Promise<BenchResult[]> {
  testbed("libvirt.sh");
  testbed("libvirt-peer.sh");
  const guest = testbed("guest-image.sh");
  const source = (await openLibvirtDriver("kvm1", SOURCE)) as LibvirtDriver;
  const peer = (await openLibvirtDriver("kvm2", PEER)) as LibvirtDriver;
  const results: BenchResult[] = [];
  try {
    for (const gib of SIZES_GIB) {
      const m = await migrateOnce(source, peer, guest, gib);
      const mib = (m.bytesMoved / 2 ** 20).toFixed(0);
      results.push(
        { name: `${gib} GiB idle guest: total migration time`, value: m.totalMs, unit: "ms", target: gib === 10 ? `< ${TOTAL_TARGET_MS} ms` : undefined, pass: gib === 10 ? m.totalMs < TOTAL_TARGET_MS : undefined },
        { name: `${gib} GiB idle guest: downtime`, value: m.downtimeMs, unit: "ms", target: `< ${DOWNTIME_TARGET_MS} ms`, pass: m.downtimeMs < DOWNTIME_TARGET_MS },
        { name: `${gib} GiB idle guest: data sent (${mib} MiB)`, value: m.bytesMoved / 2 ** 20, unit: "MiB" },
        { name: `${gib} GiB idle guest: update call, wall`, value: m.wallMs, unit: "ms" },
      );
    }
  } finally {
    await source.close();
    await peer.close();
  }
  return results;
}

function ctx(): OperationContext {
  return {
    progress: (line) => process.stderr.write(`  ${line}\n`),
    deadline: Date.now() + 300_000,
    connect: async (host) => {
      if (host !== "kvm2") throw new Error(`unknown host ${host}`);
      return openLibvirtDriver("kvm2", PEER);
    },
  };
}

async function migrateOnce(source: LibvirtDriver, peer: LibvirtDriver, guest: string, gib: number): Promise<MigrationResult & { wallMs: number }> {
  const name = `${uniquePrefix("bm")}-${gib}g`;
  const spec = RESOURCE_MODELS.VirtualMachine.schema.parse({
    host: "kvm1",
    name,
    machine: "pc",
    cpu: { cores: 1 },
    memory: { sizeMiB: gib * 1024, balloon: { statsPeriodSeconds: 1 } },
    kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0" },
    updatePolicy: { shutdownTimeoutSeconds: 0 },
  });
  const vms = { source: source.resource("VirtualMachine")!, peer: peer.resource("VirtualMachine")! };
  let id: string | undefined;
  try {
    id = (await vms.source.create(spec, ctx())).id;
    await waitUntilIdle(source, id);
    const next: VirtualMachineSpec = { ...spec, host: "kvm2" };
    const plan = classifyChange("VirtualMachine", spec, next, LIBVIRT_CAPABILITIES);
    const started = Date.now();
    const observed = await vms.source.update(id, spec, next, plan, ctx());
    const wallMs = Date.now() - started;
    const figures = observed.outputs.migration as MigrationResult | undefined;
    if (!figures) throw new Error("the update did not migrate live");
    return { ...figures, wallMs };
  } finally {
    // Wherever it ended up: a 10 GiB guest left running would starve the next run.
    if (id) {
      for (const ops of [vms.peer, vms.source]) await ops.delete(id, spec, ctx()).catch(() => undefined);
    }
    for (const uri of [SOURCE, PEER]) {
      if (uri.driver !== "libvirt") continue;
      virshMaybe(uri.uri, "destroy", name);
      virshMaybe(uri.uri, "undefine", name);
    }
  }
}

/**
 * The guest is idle once its init has loaded virtio_balloon (the last module) and the balloon
 * statistics arrive; migrating earlier would measure a kernel still dirtying memory as it boots.
 */
async function waitUntilIdle(driver: LibvirtDriver, uuid: string): Promise<void> {
  const until = Date.now() + 180_000;
  while (Date.now() < until) {
    const m = (await collectMetrics(driver.session)).find((v) => v.uuid === uuid);
    if (m?.balloon.availableKiB !== undefined) {
      // A few more seconds for udhcpc to give up on the NIC-less guest and settle.
      await new Promise((r) => setTimeout(r, 3000));
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`guest ${uuid} did not finish booting within 180 s`);
}
