import assert from "node:assert/strict";
import { VirtualMachineInputs, type VirtualMachineArgs } from "../../../provider/core/model";
import { normaliseFingerprint } from "../../../provider/drivers/proxmox/api/client";
import { labelsOf } from "../../../provider/drivers/proxmox/vm/marker";
import { modelDiskSlot, pveDiskKey } from "../../../provider/drivers/proxmox/vm/slots";
import { createParams, specFromConfig, updateParams, vmProblems, type PveConfig } from "../../../provider/drivers/proxmox/vm/translate";

const spec = (args: Partial<VirtualMachineArgs>) => VirtualMachineInputs.parse({ host: "pve", name: "web", memory: { sizeMiB: 1024 }, ...args });

/** What PVE writes for a create: volumes allocated (vm-ID-disk-N, size=), NIC MACs picked, options as sent. */
function asPveStores(params: Record<string, string | number>): PveConfig {
  const config: PveConfig = {};
  let disk = 0;
  for (const [key, value] of Object.entries(params)) {
    const text = String(value);
    const alloc = /^([a-z][a-z0-9-]*):(\d+)(,.*)?$/.exec(text);
    if (/^(scsi|virtio|sata)\d+$/.test(key) && alloc) config[key] = `${alloc[1]}:vm-100-disk-${disk++}${alloc[3] ?? ""},size=${alloc[2]}G`;
    else if (/^net\d+$/.test(key)) config[key] = text.replace(/^model=(\w+)/, `$1=BC:24:11:00:00:0${key.slice(3)}`);
    else config[key] = value;
  }
  return config;
}

describe("Proxmox VE translation", () => {
  it("slots: the model's spellings map onto PVE's keys and back, keeping the user's spelling", () => {
    assert.equal(pveDiskKey("vda"), "virtio0");
    assert.equal(pveDiskKey("vdp"), "virtio15");
    assert.equal(pveDiskKey("vdq"), undefined, "virtio has 16 slots");
    assert.equal(pveDiskKey("sdb"), "scsi1");
    assert.equal(pveDiskKey("scsi30"), "scsi30");
    assert.equal(pveDiskKey("scsi31"), undefined);
    assert.equal(pveDiskKey("sata6"), undefined);
    assert.equal(pveDiskKey("nvme0"), undefined);
    const last = spec({ disks: { sdb: { pool: "local-lvm", sizeGiB: 1 } } });
    assert.equal(modelDiskSlot("scsi1", last), "sdb");
    assert.equal(modelDiskSlot("scsi1", undefined), "scsi1");
    assert.equal(modelDiskSlot("virtio2", undefined), "vdc");
  });

  it("what create writes reads back as the same spec (so the first refresh shows no change)", () => {
    const wanted = spec({
      cpu: { sockets: 2, cores: 2, mode: "host-passthrough" },
      memory: { sizeMiB: 2048, balloon: { minMiB: 512 } },
      disks: { sda: { pool: "local-lvm", sizeGiB: 8, cache: "writeback", iothread: 1 }, vdb: { volume: "tank:vm-100-disk-7", readOnly: true } },
      nics: { net0: { network: "vnet1", vlan: 7, queues: 2 }, net1: { bridge: "vmbr0", model: "e1000e" } },
      firmware: { type: "uefi", secureBoot: true, tpm: true },
      labels: { team: "infra" },
    });
    assert.deepEqual(vmProblems(wanted), []);
    const config = asPveStores(createParams(wanted).params);
    assert.equal(config.efidisk0, "local-lvm:1,efitype=4m,pre-enrolled-keys=1");
    assert.equal(config.tpmstate0, "local-lvm:1,version=v2.0");
    const { spec: read, macs } = specFromConfig(config, "running", wanted);
    assert.deepEqual(read, wanted);
    assert.deepEqual(macs, { net0: "bc:24:11:00:00:00", net1: "bc:24:11:00:00:01" });
  });

  it("an update writes only what changed, keeps volumes, PVE's MACs and options it does not manage, and deletes dropped slots", () => {
    const old = spec({ disks: { scsi0: { pool: "local-lvm", sizeGiB: 4 }, scsi1: { pool: "local-lvm", sizeGiB: 1 } }, nics: { net0: { bridge: "vmbr0" } } });
    const current: PveConfig = {
      ...asPveStores(createParams(old).params),
      scsi0: "local-lvm:vm-100-disk-0,discard=on,size=4G",
      net0: "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1",
      ide2: "local:iso/debian.iso,media=cdrom",
      digest: "abc",
    };
    const next = spec({ cpu: { cores: 4 }, disks: { scsi0: { pool: "local-lvm", sizeGiB: 10 } }, nics: { net0: { bridge: "vmbr0", vlan: 5 } } });
    const change = updateParams(old, next, current);
    assert.deepEqual(change.params, { cores: 4, net0: "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,tag=5" });
    assert.deepEqual(change.deletes, ["scsi1"]);
    assert.deepEqual(change.resizes, { scsi0: 10 });
    assert.equal(change.origin.net0, "nics.net0");
    assert.deepEqual(
      updateParams(next, next, { ...current, cores: 4, net0: change.params.net0, scsi0: "local-lvm:vm-100-disk-0,discard=on,size=10G" }).params,
      {},
      "nothing left to write",
    );
  });

  it("refuses what PVE cannot express, naming the field", () => {
    const fields = vmProblems(
      spec({ name: "web_1", cpu: { threads: 2, pinning: { "0": "1" } }, disks: { vda: { volume: "x:y", bus: "virtio-scsi" } }, firmware: { type: "uefi" } }),
    ).map((f) => f.property);
    assert.deepEqual(fields, ["name", "cpu.threads", "cpu.pinning", "disks.vda.bus"]);
    assert.deepEqual(
      vmProblems(spec({ firmware: { type: "uefi" } })).map((f) => f.property),
      ["firmware.type"],
      "UEFI needs a storage for its vars disk",
    );
  });

  it("labels survive a hand-edited description; fingerprints normalise", () => {
    assert.deepEqual(labelsOf('notes by hand\nnovacron-labels: {"a":"b"}\nmore'), { a: "b" });
    assert.deepEqual(labelsOf("novacron-labels: {broken"), {});
    assert.equal(normaliseFingerprint("ab:cd"), "AB:CD");
    assert.equal(normaliseFingerprint("abcd"), "AB:CD");
  });
});
