import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildNoCloudSeed, seedInstanceId, type NoCloudSeedInput } from "../../../provider/core/cloud-init";
import { ensureIsoTools, ImageOnDisk } from "./iso-tools";

/** Deterministic printable filler so multi-sector files are not runs of one byte. */
function filler(bytes: number, seed: number): string {
  let state = seed;
  let out = "";
  while (out.length < bytes) {
    state = (state * 1103515245 + 12345) >>> 0;
    out += String.fromCharCode(32 + ((state >>> 16) % 95));
    if (out.length % 80 === 79) out += "\n";
  }
  return out.slice(0, bytes);
}

const USER_DATA = '#cloud-config\r\nwrite_files:\n- path: /etc/motd\n  content: "héllo ✓ 雲\\n"\nno-trailing-newline';
const NETWORK = "version: 2\nethernets:\n  eth0: {dhcp4: true}\n";

function withImage(input: NoCloudSeedInput, check: (img: ImageOnDisk) => void): void {
  const img = new ImageOnDisk(buildNoCloudSeed(input));
  try {
    check(img);
  } finally {
    img.dispose();
  }
}

describe("cloud-init: seed image read by real ISO tools", () => {
  before(function () {
    this.timeout(600_000);
    ensureIsoTools();
  });

  const base: NoCloudSeedInput = { userData: USER_DATA, networkConfig: NETWORK, instanceId: seedInstanceId(USER_DATA, undefined, NETWORK), hostname: "vm-1" };
  const metaData = `instance-id: ${base.instanceId}\nlocal-hostname: vm-1\n`;

  it("is labelled cidata, carries Joliet and passes isovfy", () => {
    withImage(base, (img) => {
      const desc = img.run("isoinfo", ["-d", "-i", img.path]);
      assert.match(desc, /^Volume id: cidata$/m);
      assert.match(desc, /Joliet with UCS level 3 found/);
      assert.match(img.run("isovfy", [img.path]), /No errors found/);
      if (spawnSync("sh", ["-c", "command -v blkid"]).status === 0) {
        assert.equal(img.run("blkid", ["-o", "value", "-s", "LABEL", img.path]).trim(), "cidata");
      }
    });
  });

  it("shows the exact lowercase names through Joliet and 8.3 aliases in the primary tree", () => {
    withImage(base, (img) => {
      assert.deepEqual(img.names("-J"), ["meta-data", "network-config", "user-data"]);
      assert.deepEqual(img.names("primary"), ["META_DAT.;1", "NETWORK_.;1", "USER_DAT.;1"]);
    });
    withImage({ ...base, networkConfig: undefined }, (img) => assert.deepEqual(img.names("-J"), ["meta-data", "user-data"]));
  });

  it("round-trips every file byte-for-byte through isoinfo and xorriso", () => {
    withImage(base, (img) => {
      const expected: Record<string, string> = { "user-data": USER_DATA, "meta-data": metaData, "network-config": NETWORK };
      const out = join(img.dir, "x");
      for (const [name, text] of Object.entries(expected)) {
        assert.ok(img.runBytes("isoinfo", ["-J", "-i", img.path, "-x", `/${name}`]).equals(Buffer.from(text)), `isoinfo ${name}`);
        img.run("xorriso", ["-osirrox", "on", "-indev", img.path, "-extract", `/${name}`, `${out}-${name}`]);
        assert.ok(readFileSync(`${out}-${name}`).equals(Buffer.from(text)), `xorriso ${name}`);
      }
    });
  });

  it("round-trips files of zero, boundary and several hundred KiB sizes", () => {
    for (const size of [0, 1, 2047, 2048, 2049, 300 * 1024, 700 * 1024 + 5]) {
      const userData = filler(size, size + 1);
      const networkConfig = filler(size === 0 ? 0 : 4097, size);
      withImage({ userData, networkConfig, instanceId: seedInstanceId(userData, undefined, networkConfig) }, (img) => {
        assert.ok(img.runBytes("isoinfo", ["-J", "-i", img.path, "-x", "/user-data"]).equals(Buffer.from(userData)), `user-data of ${size} bytes`);
        assert.ok(img.runBytes("isoinfo", ["-J", "-i", img.path, "-x", "/network-config"]).equals(Buffer.from(networkConfig)), `network-config next to ${size} bytes`);
        assert.match(img.run("isovfy", [img.path]), /No errors found/);
      });
    }
  });

  it("mounts through the kernel's isofs driver when loop devices allow it", function () {
    withImage(base, (img) => {
      const mnt = mkdtempSync(join(tmpdir(), "nc-mnt-"));
      try {
        const mounted = spawnSync("mount", ["-o", "loop,ro", "-t", "iso9660", img.path, mnt], { encoding: "utf8" });
        if (mounted.status !== 0) this.skip();
        try {
          assert.deepEqual(readdirSync(mnt).sort(), ["meta-data", "network-config", "user-data"]);
          assert.equal(readFileSync(join(mnt, "user-data"), "utf8"), USER_DATA);
          assert.equal(readFileSync(join(mnt, "meta-data"), "utf8"), metaData);
        } finally {
          spawnSync("umount", [mnt]);
        }
      } finally {
        rmSync(mnt, { recursive: true, force: true });
      }
    });
  });
});
