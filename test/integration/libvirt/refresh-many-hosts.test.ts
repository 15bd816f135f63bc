import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Driver, OperationContext } from "../../../provider/core/driver";
import type { VirtualMachineSpec } from "../../../provider/core/model";
import { parseRecorded } from "../../../provider/core/recorded";
import { type LibvirtDriver, openLibvirtDriver } from "../../../provider/drivers/libvirt/driver";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

/**
 * Issue 13: a refresh reads every VM of a stack at once. Each host's domain list is fetched once
 * and shared by all those reads, and the answers still match what virsh says, including a VM
 * removed and one added behind the list's back.
 */
const HOSTS = { kvm: "qemu:///system", tst: "test+unix:///default" } as const;
const PER_HOST = 12;

describe("libvirt: refresh of many VMs on many hosts shares one domain list per host", function () {
  this.timeout(300_000);
  const prefix = `nc-many-${uniquePrefix("rf").slice(2)}`;
  const drivers = new Map<string, LibvirtDriver>();
  const vms: { host: keyof typeof HOSTS; id: string; spec: VirtualMachineSpec }[] = [];
  const ctx = (): OperationContext => ({
    progress: () => undefined,
    deadline: Date.now() + 120_000,
    connect: (h: string): Promise<Driver> => Promise.resolve(drivers.get(h) as Driver),
  });

  const specOf = (host: string, name: string, powerState: "stopped" | "running"): VirtualMachineSpec =>
    parseRecorded("VirtualMachine", { host, name, machine: "pc", cpu: { cores: 1, mode: "host-model" }, memory: { sizeMiB: 32 }, powerState })
      .spec as unknown as VirtualMachineSpec;

  before(async () => {
    testbed("libvirt.sh");
    for (const [host, uri] of Object.entries(HOSTS)) drivers.set(host, (await openLibvirtDriver(host, { driver: "libvirt", uri })) as LibvirtDriver);
    for (const host of Object.keys(HOSTS) as (keyof typeof HOSTS)[]) {
      const made = await Promise.all(
        Array.from({ length: PER_HOST }, (_, i) => {
          // The test driver runs its domains without QEMU: half of them running there.
          const spec = specOf(host, `${prefix}-${host}-${i}`, host === "tst" && i % 2 === 0 ? "running" : "stopped");
          return drivers
            .get(host)!
            .resource("VirtualMachine")!
            .create(spec, ctx())
            .then((o) => ({ host, id: o.id, spec }));
        }),
      );
      vms.push(...made);
    }
  });

  after(async () => {
    for (const [host, uri] of Object.entries(HOSTS)) {
      for (const name of virsh(uri, "list", "--all", "--name")
        .split("\n")
        .filter((n) => n.startsWith(`${prefix}-${host}`))) {
        virshMaybe(uri, "destroy", name);
        virshMaybe(uri, "undefine", name);
      }
      await drivers.get(host)?.close();
    }
  });

  it("reads every VM concurrently with one domain list per host, matching virsh", async () => {
    const before = new Map([...drivers].map(([h, d]) => [h, d.session.domainListFetches]));
    const read = await Promise.all(vms.map((v) => drivers.get(v.host)!.resource("VirtualMachine")!.read(v.id, v.spec, { hosts: {} })));
    for (const [host, d] of drivers) assert.equal(d.session.domainListFetches - (before.get(host) ?? 0), 1, `${host}: one list for ${PER_HOST} reads`);
    read.forEach((o, i) => {
      const v = vms[i]!;
      assert.ok(o, `${v.spec.name} found`);
      assert.equal(o.id, v.id);
      const state = virsh(HOSTS[v.host], "domstate", v.spec.name).trim();
      assert.equal(o.spec.powerState, state === "running" ? "running" : "stopped", `${v.spec.name}: virsh says ${state}`);
      assert.equal(o.spec.memory.sizeMiB, 32);
    });
  });

  it("a VM removed or added since the list was taken is still read right", async () => {
    const d = drivers.get("tst")!;
    const vmRes = d.resource("VirtualMachine")!;
    await d.session.domainsRecently(); // the list now includes gone-vm
    const gone = vms.find((v) => v.host === "tst")!;
    virsh(HOSTS.tst, "destroy", gone.spec.name);
    virsh(HOSTS.tst, "undefine", gone.spec.name);
    const late = specOf("tst", `${prefix}-tst-late`, "stopped");
    const lateUuid = randomUUID();
    const xmlFile = join(tmpdir(), `${late.name}.xml`);
    writeFileSync(xmlFile, `<domain type="test"><name>${late.name}</name><uuid>${lateUuid}</uuid><memory unit="MiB">32</memory><os><type>hvm</type></os></domain>`);
    virsh(HOSTS.tst, "define", xmlFile);
    rmSync(xmlFile);
    const fetches = d.session.domainListFetches;
    assert.equal(await vmRes.read(gone.id, gone.spec, { hosts: {} }), undefined);
    const found = await vmRes.read(lateUuid, late, { hosts: {} });
    assert.equal(found?.id, lateUuid);
    assert.equal(found?.spec.name, late.name);
    assert.equal(d.session.domainListFetches, fetches, "both answered inside the list's window");
  });
});
