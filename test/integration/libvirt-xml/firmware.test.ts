import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { buildDomainXml, parseDomainXml } from "../../../provider/drivers/libvirt/xml";
import { ctxFor, vm } from "../../unit/libvirt-xml/fixtures";
import { ensureLibvirtd, run, TAG, tryVirsh, virsh, withFile } from "./virsh";

/** Firmware descriptors come with Debian's ovmf package; the TPM emulator with swtpm + swtpm-tools. */
const haveOvmf = () => fs.existsSync("/usr/share/qemu/firmware") && fs.readdirSync("/usr/share/qemu/firmware").some((f) => f.includes("edk2"));
const haveSwtpm = () => run("sh", ["-c", "command -v swtpm && command -v swtpm_setup"]).status === 0;

describe("UEFI, secure boot and TPM start under TCG (firmware autoselection and explicit images)", function () {
  this.timeout(900_000);
  const names: string[] = [];

  before(function () {
    ensureLibvirtd();
    if (!haveOvmf()) this.skip();
  });

  after(() => {
    for (const name of names) {
      tryVirsh("destroy", name);
      tryVirsh("undefine", "--nvram", "--remove-all-storage", name);
    }
  });

  const cases = [
    { label: "UEFI without secure boot", firmware: { type: "uefi" as const }, secure: false },
    { label: "UEFI with secure boot, SMM and TPM 2.0", firmware: { type: "uefi" as const, secureBoot: true, tpm: true }, secure: true },
  ];
  for (const { label, firmware, secure } of cases) {
    it(label, function () {
      if (firmware.tpm && !haveSwtpm()) this.skip();
      const name = `${TAG}-fw-${secure ? "sb" : "efi"}`;
      names.push(name);
      const spec = vm({ name, memory: { sizeMiB: 256 }, firmware });
      withFile(buildDomainXml(spec, ctxFor(spec, { type: "qemu" })), (file) => virsh("define", file));
      virsh("start", name);
      assert.match(virsh("domstate", name), /running/);
      const live = parseDomainXml(virsh("dumpxml", name));
      assert.deepEqual(
        { type: live.firmware.type, secureBoot: live.firmware.secureBoot, tpm: live.firmware.tpm },
        {
          type: "uefi",
          secureBoot: secure,
          tpm: firmware.tpm ?? false,
        },
      );
      // Autoselection resolved a concrete image pair, with the secure-boot build when asked for.
      assert.match(live.firmware.loader ?? "", secure ? /secboot|\.ms\./i : /OVMF_CODE/);
      assert.ok(live.firmware.nvram);
    });
  }

  it("explicit loader and NVRAM template (no autoselection) with secure boot", function () {
    const code = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
    const vars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
    if (!fs.existsSync(code) || !fs.existsSync(vars)) this.skip();
    const name = `${TAG}-fw-manual`;
    names.push(name);
    const spec = vm({ name, memory: { sizeMiB: 256 }, firmware: { type: "uefi", secureBoot: true } });
    const nvram = `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;
    withFile(buildDomainXml(spec, ctxFor(spec, { type: "qemu", uefi: { loader: code, nvram, nvramTemplate: vars } })), (file) => virsh("define", file));
    virsh("start", name);
    assert.match(virsh("domstate", name), /running/);
    const live = parseDomainXml(virsh("dumpxml", name));
    assert.deepEqual(live.firmware, { type: "uefi", secureBoot: true, tpm: false, loader: code, nvram });
    assert.ok(fs.existsSync(nvram), "libvirt copied the template into the domain's NVRAM file");
  });
});
