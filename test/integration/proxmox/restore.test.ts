import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { PartialCreateError } from "../../../provider/core/errors";
import { VirtualMachineInputs } from "../../../provider/core/model";
import { PveClient, type PveRequest } from "../../../provider/drivers/proxmox/api/client";
import { ProxmoxVmResource } from "../../../provider/drivers/proxmox/resources/vm";
import { restoreParams } from "../../../provider/drivers/proxmox/vm/restore";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { PveSchema } from "./contract";
import { clientFor, fakepve, hostEntry, uniqueName } from "./testbed";

type Props = Record<string, unknown>;

function context(seconds: number): OperationContext & { lines: string[] } {
  const lines: string[] = [];
  return { lines, progress: (m) => lines.push(m), deadline: Date.now() + seconds * 1000, connect: () => Promise.reject(new Error("no other hosts here")) };
}

/**
 * A VM created from a Backup's archive (PVE's create call with `archive`, as qmrestore does).
 * fakepve 0.5.0 runs vzdump but writes no archive, and answers every qemu restore with
 * "unable to restore VM N - restoring an archive is not supported" after checking the request
 * against PVE's schema: what the server can show is that the request is valid, that the refusal
 * reaches the user as a clear error naming restoreFrom, and that nothing is left behind or
 * recorded. The step after a real restore (the spec written over the restored config) is the
 * code path clones use, which clone.test.ts reads back; a restored config itself is untested here.
 */
describe("Proxmox VE: a VM restored from a backup archive (fakepve)", function () {
  this.timeout(120_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  const made: { kind: "VirtualMachine" | "Backup"; id: string; outs: Props }[] = [];
  let source: { id: string; outs: Props };

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve), kvm: { driver: "libvirt", uri: "qemu:///system" } }) });
    api = clientFor(pve);
    source = await host.checkAndCreate("VirtualMachine", { host: "pve", name: uniqueName("rs-src"), memory: { sizeMiB: 64 }, powerState: "stopped" });
    made.push({ kind: "VirtualMachine", ...source });
  });

  after(async () => {
    for (const r of made.reverse()) await host.delete(r.kind, r.id, r.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check: an archive that is no backup volume id, a container's archive, both cloneFrom and restoreFrom, and hypervisors without backups are refused naming restoreFrom", async () => {
    const base = { host: "pve", name: uniqueName("rs-chk"), memory: { sizeMiB: 64 } };
    const notAVolume = await host.check("VirtualMachine", {}, { ...base, restoreFrom: "/tmp/dump.vma" });
    assert.deepEqual(
      notAVolume.failures.map((f) => f.property),
      ["restoreFrom"],
    );
    assert.match(notAVolume.failures[0].reason, /a backup volume id such as "local:backup\/vzdump-qemu-/);
    const lxc = await host.check("VirtualMachine", {}, { ...base, restoreFrom: "local:backup/vzdump-lxc-101-2026_12_05-03_00_00.tar.zst" });
    assert.match(lxc.failures[0].reason, /a container \(lxc\) backup; restore it with Container\.restoreFrom/);
    const both = await host.check("VirtualMachine", {}, { ...base, restoreFrom: "local:backup/vzdump-qemu-101-2026_12_05-03_00_00.vma.zst", cloneFrom: { template: "t" } });
    assert.match(JSON.stringify(both.failures), /give either cloneFrom \(a template\) or restoreFrom \(a backup archive\), not both/);
    const kvm = await host.check("VirtualMachine", {}, { ...base, host: "kvm", restoreFrom: "local:backup/vzdump-qemu-101-2026_12_05-03_00_00.vma.zst" });
    assert.deepEqual(
      kvm.failures.map((f) => f.property),
      ["restoreFrom"],
    );
    assert.match(kvm.failures[0].reason, /libvirt has no backup archive store/);
    // An archive still unknown at preview (a Backup made in the same program) passes check.
    const unknown = await host.check("VirtualMachine", {}, { ...base, restoreFrom: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
    assert.deepEqual(unknown.failures, []);
  });

  it("backup, then restore from the archive: fakepve refuses the (schema-valid) restore; the error names restoreFrom and PVE's reason, and no VM is left or recorded", async () => {
    const backup = await host.checkAndCreate("Backup", { host: "pve", guest: source.id, storage: "local", mode: "stop" });
    made.push({ kind: "Backup", ...backup });
    // fakepve lists no archive (backup.test.ts): the volume id a real PVE would list for this run stands in.
    const archive = (backup.outs.archive as string | null) ?? `local:backup/vzdump-qemu-${source.id}-2026_12_05-03_00_00.vma.zst`;
    const name = uniqueName("rs");
    const sent: PveRequest[] = [];
    const client = new PveClient({ ...clientFor(pve).options, onRequest: (r) => sent.push(r) });
    const spec = VirtualMachineInputs.parse({
      host: "pve",
      name,
      restoreFrom: archive,
      memory: { sizeMiB: 128 },
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 4 } },
      powerState: "stopped",
    });
    const ctx = context(30);
    await assert.rejects(new ProxmoxVmResource(client, pve.node).create(spec, ctx), (e: unknown) => {
      assert.ok(!(e instanceof PartialCreateError), "nothing was made, so nothing is recorded");
      assert.match(
        (e as Error).message,
        new RegExp(
          `^restoreFrom: Proxmox VE refused to restore VM "${name}" from ${archive.replace(/[.]/g, "\\.")}: unable to restore VM \\d+ - restoring an archive is not supported`,
        ),
      );
      return true;
    });
    await client.close();
    const restore = sent.find((r) => r.method === "POST" && r.path === `/nodes/${pve.node}/qemu`);
    assert.ok(restore, "the restore call was sent");
    assert.equal(restore.params.archive, archive);
    assert.equal(restore.params.storage, "local-lvm", "the restored disks go to the first disk's storage");
    assert.equal(restore.params.unique, "1");
    assert.equal(restore.params.tags, "novacron", "a .vma restore carries NovaCron's tag from its first moment");
    assert.equal(restore.params.scsi0, undefined, "no drive keys: PVE refuses them beside archive");
    const listed = await api.get<{ vmid: number; name?: string }[]>(`/nodes/${pve.node}/qemu`);
    assert.equal(listed.filter((v) => v.name === name).length, 0, "no VM of that name");
    assert.equal(listed.filter((v) => String(v.vmid) === restore.params.vmid).length, 0, "nothing under the id tried");
    assert.match(ctx.lines.join("\n"), new RegExp(`restoring VM "${name}" from .* onto storage local-lvm`));
  });

  it("every restore request is valid per PVE's published API schema (the .vma form with overrides, the .tar form without)", function () {
    if (!PveSchema.available()) this.skip();
    const schema = PveSchema.load();
    for (const archive of ["local:backup/vzdump-qemu-104-2026_12_05-03_00_00.vma.zst", "nfs-backup:backup/vzdump-qemu-104-2019_01_01-00_00_00.tar.lzo"]) {
      const spec = VirtualMachineInputs.parse({ host: "pve", name: "restored", restoreFrom: archive, memory: { sizeMiB: 512 }, labels: { team: "infra" } });
      const params = Object.fromEntries(Object.entries(restoreParams(spec, "local-lvm")).map(([k, v]) => [k, String(v)]));
      assert.deepEqual(schema.problems({ method: "POST", path: "/nodes/pve1/qemu", params: { vmid: "100", ...params } }), [], archive);
      assert.equal(params.name === undefined, archive.includes(".tar"), "config keys only beside a .vma archive");
    }
  });

  it("a changed restoreFrom replaces the VM; refresh keeps it (PVE does not record where a VM came from)", async () => {
    const spec = { ...specOf(source.outs, "VirtualMachine"), restoreFrom: "local:backup/vzdump-qemu-1-2026_12_05-03_00_00.vma.zst" };
    const old = { ...source.outs, restoreFrom: "local:backup/vzdump-qemu-1-2026_12_04-03_00_00.vma.zst" };
    const diff = await host.diff("VirtualMachine", source.id, old, spec);
    assert.deepEqual(diff.replaces, ["restoreFrom"]);
    const read = await host.read("VirtualMachine", source.id, old);
    assert.equal(read.inputs.restoreFrom, old.restoreFrom);
  });
});
