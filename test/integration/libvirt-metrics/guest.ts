import { mkdirSync, rmSync } from "node:fs";
import type { OperationContext } from "../../../provider/core/driver";
import { RESOURCE_MODELS, type ResourceKind, type SpecOf } from "../../../provider/core/model";
import { type LibvirtDriver, openLibvirtDriver } from "../../../provider/drivers/libvirt/driver";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

export const URI = "qemu:///system";

/** A running testbed guest made through the libvirt driver, and everything it needed. */
export interface TestGuest {
  driver: LibvirtDriver;
  name: string;
  uuid: string;
  ipAddress?: string;
  /** Deletes whatever exists of it, tolerating a half-made fixture. */
  destroy(): Promise<void>;
}

function ctx(): OperationContext {
  return {
    progress: () => undefined,
    deadline: Date.now() + 300_000,
    connect: () => Promise.reject(new Error("no other host in this test")),
  };
}

/**
 * Boots the testbed guest (kernel + busybox initramfs: virtio-net with DHCP, virtio_balloon)
 * under TCG with balloon statistics on. With `disk` and `nic` it also gets a blank disk in a
 * pool of its own and an isolated network with DHCP, and waits for its lease.
 */
export async function startTestGuest(tag: string, opts: { disk?: boolean; nic?: boolean; memoryMiB?: number; cmdline?: string }): Promise<TestGuest> {
  testbed("libvirt.sh");
  const guest = testbed("guest-image.sh");
  const prefix = uniquePrefix(tag);
  const poolDir = `/var/lib/novacron-test/${prefix}`;
  const driver = (await openLibvirtDriver("kvm", { driver: "libvirt", uri: URI })) as LibvirtDriver;
  const made: { kind: ResourceKind; id: string; spec: unknown }[] = [];
  const name = `${prefix}-vm`;

  async function make<K extends ResourceKind>(kind: K, input: unknown): Promise<{ id: string; outputs: Record<string, unknown> }> {
    const spec = RESOURCE_MODELS[kind].schema.parse(input) as SpecOf<K>;
    const observed = await driver.resource(kind)!.create(spec, ctx());
    made.push({ kind, id: observed.id, spec });
    return observed;
  }

  const destroy = async () => {
    for (const r of made.reverse()) {
      await driver
        .resource(r.kind)!
        .delete(r.id, r.spec as never, ctx())
        .catch((e) => console.error(`cleanup ${r.kind} ${r.id}: ${e}`));
    }
    // Belt and braces for a fixture that failed before its VM was recorded.
    virshMaybe(URI, "destroy", name);
    virshMaybe(URI, "undefine", name);
    rmSync(poolDir, { recursive: true, force: true });
    await driver.close();
  };

  try {
    const subnet = `10.232.${20 + ((process.pid + tag.length * 7) % 200)}`;
    if (opts.disk) {
      mkdirSync(poolDir, { recursive: true });
      await make("StoragePool", { host: "kvm", name: `${prefix}-pool`, kind: "dir", path: poolDir });
    }
    if (opts.nic) await make("Network", { host: "kvm", name: `${prefix}-net`, mode: "isolated", cidr: `${subnet}.0/24`, dhcp: {} });
    const vm = await make("VirtualMachine", {
      host: "kvm",
      name,
      machine: "pc",
      cpu: { cores: 2 },
      memory: { sizeMiB: opts.memoryMiB ?? 192, balloon: { statsPeriodSeconds: 1 } },
      disks: opts.disk ? { vda: { pool: `${prefix}-pool`, sizeGiB: 1 } } : {},
      nics: opts.nic ? { net0: { network: `${prefix}-net` } } : {},
      kernelBoot: { kernel: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: opts.cmdline ?? "console=ttyS0" },
      waitForIp: opts.nic ? { timeoutSeconds: 180 } : undefined,
      updatePolicy: { shutdownTimeoutSeconds: 0 },
    });
    return { driver, name, uuid: vm.id, ipAddress: vm.outputs.ipAddress as string | undefined, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

export async function eventually<T>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await probe();
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

/** Guest memory dirty rate QEMU measures over `seconds` (virsh domdirtyrate-calc), MB/s. */
export async function dirtyRate(uri: string, domain: string, seconds = 2): Promise<number> {
  virsh(uri, "domdirtyrate-calc", domain, "--seconds", String(seconds));
  const stats = await eventually(
    async () => virsh(uri, "domstats", domain, "--dirtyrate"),
    (s) => /dirtyrate\.calc_status=2/.test(s),
    seconds * 1000 + 15_000,
    "dirty rate measured",
  );
  return Number(/dirtyrate\.megabytes_per_second=(\d+)/.exec(stats)?.[1] ?? Number.NaN);
}

/** After a migration test: the guest goes from both hosts, wherever the moves left it. */
export async function removeMigratedGuest(guest: TestGuest | undefined, peerUri: string, peer: { close(): Promise<void> } | undefined): Promise<void> {
  if (guest) {
    virshMaybe(peerUri, "destroy", guest.name);
    virshMaybe(peerUri, "undefine", guest.name);
  }
  await peer?.close();
  await guest?.destroy();
}
