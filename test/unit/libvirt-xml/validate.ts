import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strict as assert } from "node:assert";

/** Checks a document against libvirt's own RelaxNG schemas (virt-xml-validate, Debian package libvirt-clients). */
export function assertValidLibvirtXml(xml: string, schema: "domain" | "network" | "storagepool" | "storagevol" | "nodedev"): void {
  const dir = mkdtempSync(join(tmpdir(), "nc-xml-"));
  try {
    const file = join(dir, `${schema}.xml`);
    writeFileSync(file, xml);
    const run = spawnSync("virt-xml-validate", [file, schema], { encoding: "utf8" });
    assert.equal(run.status, 0, `virt-xml-validate ${schema} failed:\n${run.stderr}${run.stdout}\n--- document ---\n${xml}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
