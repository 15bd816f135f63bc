import assert from "node:assert/strict";
import { type VirtualMachineArgs, VirtualMachineInputs } from "../../../provider/core/model";
import { cloudInitChanged, isCloudInitDrive, pveUrlEncode } from "../../../provider/drivers/proxmox/vm/cloud-init";
import { createParams, type PveConfig, specFromConfig, updateParams } from "../../../provider/drivers/proxmox/vm/translate";

const spec = (args: Partial<VirtualMachineArgs>) =>
  VirtualMachineInputs.parse({
    host: "pve",
    name: "web",
    memory: { sizeMiB: 1024 },
    disks: { scsi0: { pool: "local-lvm", sizeGiB: 4 } },
    nics: { net0: { bridge: "vmbr0" } },
    ...args,
  });

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+/= me@host";

describe("Proxmox VE cloud-init and disk moves (translation)", () => {
  it("percent-encodes keys as PVE's urlencoded format decodes them: nothing but letters, digits and -_.~ left bare", () => {
    assert.equal(pveUrlEncode("a b+c/d=e@f!'()*\n"), "a%20b%2Bc%2Fd%3De%40f%21%27%28%29%2A%0A");
    assert.equal(decodeURIComponent(pveUrlEncode(KEY)), KEY);
  });

  it("a cloud-init spec becomes ciuser, cipassword, sshkeys, ipconfigN and a cloudinit drive, and reads back unchanged", () => {
    const s = spec({ cloudInit: { user: { name: "ops", password: "pw-123456" }, sshKeys: [KEY], ipConfig: { net0: { ipv4: "dhcp" } } } });
    const { params, origin } = createParams(s);
    assert.equal(params.ciuser, "ops");
    assert.equal(params.cipassword, "pw-123456");
    assert.equal(origin.cipassword, "cloudInit.user.password");
    assert.equal(params.sshkeys, `${pveUrlEncode(KEY)}%0A`);
    assert.equal(params.ipconfig0, "ip=dhcp");
    assert.equal(params.ide2, "local-lvm:cloudinit");
    // PVE masks the password and names the drive's volume itself.
    const config: PveConfig = { ...params, cipassword: "**********", ide2: "local-lvm:vm-100-cloudinit,media=cdrom", scsi0: "local-lvm:vm-100-disk-0,size=4G" };
    const back = specFromConfig(config, "stopped", s).spec;
    assert.deepEqual(back.cloudInit, s.cloudInit);
    const again = updateParams(s, s, { ...config, digest: "x" });
    assert.deepEqual(again.params, {}, "nothing to write: the masked password is not rewritten");
    assert.deepEqual(again.deletes, []);
  });

  it("dropping cloud-init removes its keys and the drive; a new password alone is written", () => {
    const s = spec({ cloudInit: { user: { name: "ops", password: "pw-123456" }, ipConfig: { net0: { ipv4: "dhcp" } } } });
    const config: PveConfig = { ...createParams(s).params, cipassword: "**********", ide2: "local-lvm:vm-100-cloudinit,media=cdrom", scsi0: "local-lvm:vm-100-disk-0,size=4G" };
    const gone = updateParams(s, { ...s, cloudInit: undefined }, config);
    assert.deepEqual(gone.deletes.sort(), ["cipassword", "ciuser", "ide2", "ipconfig0"]);
    const pw = updateParams(s, { ...s, cloudInit: { ...s.cloudInit!, user: { name: "ops", password: "pw-new-654321" } } }, config);
    assert.deepEqual(pw.params, { cipassword: "pw-new-654321" });
    assert.ok(cloudInitChanged(s.cloudInit, { ...s.cloudInit!, user: { name: "ops", password: "pw-new-654321" } }));
    assert.ok(!isCloudInitDrive("local:iso/debian.iso,media=cdrom"), "an ISO in the slot is not the cloudinit drive");
  });

  it("a disk's pool change is a move with its content, not a new blank disk; once moved, nothing more", () => {
    const s = spec({});
    const next = { ...s, disks: { scsi0: { ...s.disks.scsi0, pool: "fast" } } };
    const config: PveConfig = { scsi0: "local-lvm:vm-100-disk-0,size=4G", scsihw: "virtio-scsi-single" };
    const change = updateParams(s, next, config);
    assert.deepEqual(change.moves, { scsi0: "fast" });
    assert.equal(change.params.scsi0, undefined);
    assert.deepEqual(updateParams(s, next, { ...config, scsi0: "fast:vm-100-disk-0,size=4G" }).moves, {});
  });
});
