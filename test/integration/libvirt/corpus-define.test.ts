import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";
import { adopt } from "../../unit/libvirt-xml/adopt";

const URI = "qemu:///system";
const CORPUS = join(__dirname, "../../unit/libvirt-xml/corpus");

/**
 * The corpus on the real libvirtd: each shape is defined as an administrator would (`virsh
 * define`), read back the way refresh reads it (libvirt's own echo of the definition), built
 * again as the next update would re-define it, and defined again. libvirt must take the rebuilt
 * definition, and reading it back must give the same spec.
 */
describe("libvirt: corpus domains defined on the real libvirtd survive a re-define from the model (qemu:///system)", function () {
  this.timeout(300_000);
  const prefix = `nc-refresh-${uniquePrefix("cd").slice(2)}`;
  const dir = mkdtempSync(join(tmpdir(), "nc-refresh-corpus-"));
  const defined: string[] = [];

  before(() => testbed("libvirt.sh"));
  after(() => {
    for (const name of defined) virshMaybe(URI, "undefine", name, "--nvram");
    rmSync(dir, { recursive: true, force: true });
  });

  it("defines, reads, rebuilds and re-defines each shape libvirt takes on this host", () => {
    const files = readdirSync(CORPUS)
      .filter((f) => f.endsWith(".xml"))
      .sort();
    const skipped: string[] = [];
    let roundTripped = 0;
    for (const [i, file] of files.entries()) {
      const name = `${prefix}-${i}`;
      // This host has no /dev/kvm; a fresh name and uuid keep runs apart.
      const original = readFileSync(join(CORPUS, file), "utf8")
        .replace(/<domain type='kvm'/, "<domain type='qemu'")
        .replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`)
        .replace(/<uuid>[^<]*<\/uuid>/, "");
      writeFileSync(join(dir, "original.xml"), original);
      try {
        virsh(URI, "define", join(dir, "original.xml"));
      } catch (error) {
        // A shape this host cannot hold (another architecture's emulator, a host device it lacks).
        skipped.push(
          `${file}: ${String((error as { stderr?: string }).stderr ?? error)
            .trim()
            .split("\n")
            .pop()}`,
        );
        continue;
      }
      defined.push(name);
      const first = adopt(virsh(URI, "dumpxml", name, "--inactive"));
      assert.deepEqual([...(first.refused ?? []), ...(first.drift ?? [])], [], `${file} as libvirt echoes it`);
      writeFileSync(join(dir, "rebuilt.xml"), first.rebuilt!);
      virsh(URI, "define", join(dir, "rebuilt.xml"));
      const second = adopt(virsh(URI, "dumpxml", name, "--inactive"));
      assert.deepEqual(second.spec, first.spec, `${file}: the re-defined domain reads as the same spec`);
      assert.deepEqual(second.parsed.preserved.summary, first.parsed.preserved.summary, `${file}: the unmanaged devices are all still there`);
      roundTripped++;
    }
    console.log(`      real libvirtd: ${roundTripped}/${files.length} shapes defined and re-defined from the model; skipped: ${skipped.join(" | ") || "none"}`);
    assert.ok(roundTripped >= files.length * 0.8, `only ${roundTripped} of ${files.length} could be defined here`);
  });
});
