import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../../..");
const MAIN_URI = "qemu:///system";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function virsh(uri: string, ...args: string[]): Run {
  return run("virsh", ["-c", uri, ...args]);
}

function mustVirsh(uri: string, ...args: string[]): string {
  const r = virsh(uri, ...args);
  assert.equal(r.status, 0, `virsh -c ${uri} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function hostUuid(uri: string): string {
  const m = /<host>\s*<uuid>([^<]+)<\/uuid>/.exec(mustVirsh(uri, "capabilities"));
  assert.ok(m, `no host uuid in ${uri} capabilities`);
  return m[1];
}

/** Fields of `virsh domjobinfo` output, e.g. "Total downtime" → "26 ms". */
function jobInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0)
      out.set(
        line.slice(0, i).trim(),
        line
          .slice(i + 1)
          .trim()
          .replace(/\s+/g, " "),
      );
  }
  return out;
}

describe("second libvirtd in its own namespaces (migration peer)", function () {
  // Installing packages on a fresh machine dominates; the tests themselves take seconds.
  this.timeout(900_000);
  let peerUri = "";
  const domName = `nc-peer-mig-${process.pid}`;
  let xmlFile = "";

  before(() => {
    const mainScript = path.join(REPO, "test/testbeds/libvirt.sh");
    if (fs.existsSync(mainScript)) {
      const m = run("bash", [mainScript], 900_000);
      assert.equal(m.status, 0, `libvirt.sh failed: ${m.stderr}${m.stdout}`);
    }
    const p = run("bash", [path.join(REPO, "test/testbeds/libvirt-peer.sh")], 900_000);
    assert.equal(p.status, 0, `libvirt-peer.sh failed: ${p.stderr}`);
    peerUri = p.stdout.trim().split("\n").pop() ?? "";
    assert.equal(peerUri, "qemu+tcp://10.213.0.2/system");

    xmlFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nc-peer-")), "dom.xml");
    // No disk and no kernel: SeaBIOS finds nothing to boot and idles, which
    // is still a running guest whose RAM and device state must migrate.
    fs.writeFileSync(
      xmlFile,
      `<domain type='qemu'>
  <name>${domName}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>
`,
    );
  });

  after(() => {
    for (const uri of [MAIN_URI, peerUri]) {
      if (!uri) continue;
      virsh(uri, "destroy", domName);
      virsh(uri, "undefine", domName);
    }
    if (xmlFile) fs.rmSync(path.dirname(xmlFile), { recursive: true, force: true });
  });

  it("is a different host: its host UUID differs from the main daemon's", () => {
    const main = hostUuid(MAIN_URI);
    const peer = hostUuid(peerUri);
    assert.notEqual(peer, main);
  });

  it("does not see the main daemon's domains (private /etc and /run/libvirt)", () => {
    mustVirsh(MAIN_URI, "create", xmlFile);
    assert.ok(mustVirsh(MAIN_URI, "list", "--name").split("\n").includes(domName));
    assert.ok(!mustVirsh(peerUri, "list", "--all", "--name").split("\n").includes(domName));
  });

  it("receives a running domain by live peer-to-peer migration", () => {
    assert.equal(mustVirsh(MAIN_URI, "domstate", domName).trim(), "running");
    const t0 = Date.now();
    const m = virsh(MAIN_URI, "migrate", "--live", "--p2p", "--verbose", domName, peerUri, "--migrateuri", "tcp://10.213.0.2");
    const wallMs = Date.now() - t0;
    assert.equal(m.status, 0, `migrate failed: ${m.stderr}${m.stdout}`);

    assert.equal(mustVirsh(peerUri, "domstate", domName).trim(), "running");
    assert.ok(!mustVirsh(MAIN_URI, "list", "--all", "--name").split("\n").includes(domName));
    const gone = virsh(MAIN_URI, "domstate", domName);
    assert.notEqual(gone.status, 0, "source still knows the domain");

    const job = jobInfo(mustVirsh(peerUri, "domjobinfo", "--completed", domName));
    assert.equal(job.get("Operation"), "Incoming migration");
    console.log(
      `      libvirt p2p migration: virsh wall ${wallMs} ms, job ${job.get("Time elapsed")}, ` +
        `downtime ${job.get("Total downtime")}, memory processed ${job.get("Memory processed")}`,
    );
  });
});
