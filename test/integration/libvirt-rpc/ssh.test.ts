// qemu+ssh:// against a real OpenSSH server on loopback: the client tunnels to
// the daemon's unix socket with a stream-local forward, authenticates with a
// key, and refuses hosts whose key is unknown or different from known_hosts.
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostKeyVerificationError, LibvirtClient, fingerprintSha256 } from "../../../provider/drivers/libvirt/rpc";
import { useLibvirtTestbed, sleep, waitFor } from "./testbed";

function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function waitListening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`sshd did not listen on ${port} within ${ms} ms`);
}

function keygen(path: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path]);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

describe("libvirt RPC: qemu+ssh:// through a real sshd", function () {
  this.timeout(60_000);
  useLibvirtTestbed();
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-ssh-"));
  let port = 0;
  let sshd: ChildProcess | undefined;
  let hostPub = "";
  let sshdLog = "";

  const uri = (driver: string, path: string, knownHosts: string): string =>
    `${driver}+ssh://root@127.0.0.1:${port}${path}?keyfile=${join(dir, "client")}&known_hosts=${join(dir, knownHosts)}`;

  before(async () => {
    port = await sparePort();
    hostPub = keygen(join(dir, "host"));
    const clientPub = keygen(join(dir, "client"));
    writeFileSync(join(dir, "authorized_keys"), `${clientPub}\n`);
    const [type, blob] = hostPub.split(" ");
    writeFileSync(join(dir, "known_hosts_plain"), `[127.0.0.1]:${port} ${type} ${blob}\n`);
    // OpenSSH's HashKnownHosts form: |1|base64(salt)|base64(HMAC-SHA1(salt, "[host]:port")).
    const salt = randomBytes(20);
    const mac = createHmac("sha1", salt).update(`[127.0.0.1]:${port}`).digest("base64");
    writeFileSync(join(dir, "known_hosts_hashed"), `|1|${salt.toString("base64")}|${mac} ${type} ${blob}\n`);
    const otherPub = keygen(join(dir, "impostor"));
    writeFileSync(join(dir, "known_hosts_wrong"), `[127.0.0.1]:${port} ${otherPub.split(" ").slice(0, 2).join(" ")}\n`);
    writeFileSync(join(dir, "known_hosts_other_host"), `[127.0.0.9]:${port} ${type} ${blob}\n`);
    writeFileSync(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The temp dir is world-readable under /tmp; this sshd is test-only.
        "StrictModes no",
        "AllowStreamLocalForwarding yes",
        "",
      ].join("\n"),
    );
    mkdirSync("/run/sshd", { recursive: true });
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    sshd.stderr?.on("data", (d: Buffer) => (sshdLog += d.toString()));
    await waitListening(port, 10_000);
  });

  after(() => {
    sshd?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("reaches qemu:///system with a key and a plain known_hosts entry", async () => {
    const c = await LibvirtClient.connect(uri("qemu", "/system", "known_hosts_plain"));
    try {
      // The daemon sees the name with transport, user, host and port stripped.
      assert.equal((await c.call("connectGetUri")).uri, "qemu:///system");
      assert.ok((await c.call("connectGetCapabilities")).capabilities.includes("<capabilities>"));
    } finally {
      await c.close();
    }
  });

  it("accepts a hashed known_hosts entry and serves the test driver", async () => {
    const c = await LibvirtClient.connect(uri("test", "/default", "known_hosts_hashed"));
    try {
      assert.equal((await c.call("connectGetUri")).uri, "test:///default");
      assert.equal((await c.call("domainLookupByName", { name: "test" })).dom.name, "test");
    } finally {
      await c.close();
    }
  });

  it("authenticates through an ssh-agent when no key file is given", async () => {
    const agentSock = join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", agentSock], { stdio: "ignore" });
    try {
      await waitFor(
        () => existsSync(agentSock),
        (ok) => ok,
        5000,
        "ssh-agent socket",
      );
      execFileSync("ssh-add", [join(dir, "client")], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: "ignore" });
      const c = await LibvirtClient.connect(`test+ssh://root@127.0.0.1:${port}/default?known_hosts=${join(dir, "known_hosts_plain")}`, {
        ssh: { agent: agentSock },
      });
      try {
        assert.equal((await c.call("connectGetUri")).uri, "test:///default");
      } finally {
        await c.close();
      }
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("refuses a changed host key, naming the host and the offered fingerprint", async () => {
    const expectedFp = fingerprintSha256(Buffer.from(hostPub.split(" ")[1], "base64"));
    const accepted = (): number => sshdLog.split("Accepted publickey").length - 1;
    const before = accepted();
    assert.ok(before >= 1, "earlier tests logged in, so sshd's log is being captured");
    await assert.rejects(LibvirtClient.connect(uri("qemu", "/system", "known_hosts_wrong")), (e: unknown) => {
      assert.ok(e instanceof HostKeyVerificationError, String(e));
      assert.equal(e.host, `[127.0.0.1]:${port}`);
      assert.equal(e.fingerprint, expectedFp);
      assert.match(e.message, /HAS CHANGED/);
      assert.ok(e.message.includes(expectedFp) && e.message.includes(`[127.0.0.1]:${port}`));
      return true;
    });
    // Refused during key exchange: our key was never offered to the impostor.
    await sleep(200);
    assert.equal(accepted(), before);
  });

  it("refuses an unknown host", async () => {
    await assert.rejects(LibvirtClient.connect(uri("qemu", "/system", "known_hosts_other_host")), (e: unknown) => {
      assert.ok(e instanceof HostKeyVerificationError, String(e));
      assert.match(e.message, /is not in .*known_hosts_other_host/);
      return true;
    });
  });

  it("reports a wrong remote socket path as a connection error", async () => {
    await assert.rejects(
      LibvirtClient.connect(`${uri("qemu", "/system", "known_hosts_plain")}&socket=/nonexistent/libvirt-sock`),
      /refused forwarding to \/nonexistent\/libvirt-sock/,
    );
  });
});
