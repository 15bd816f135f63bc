// qemu+tls:// transport: certificates from a pkipath directory, server
// verification, and libvirt's post-handshake confirmation byte. First against a
// real libvirtd (the migration peer of test/testbeds/libvirt-peer.sh, which
// listens with TLS and a PKI of its own), then against the scripted fake daemon
// behind a TLS server, for the refusals a real daemon cannot be made to send.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { LibvirtClient, LibvirtConnectionError } from "../../../provider/drivers/libvirt/rpc";
import { hostnameReply, serveConnection } from "./fake-daemon";
import { testbed, virsh } from "../../support/testbeds";
import { useLibvirtTestbed } from "./testbed";

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA plus a leaf certificate signed by it, written as PEM files in `dir`. */
function makePki(dir: string, cn: string, san: string): void {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", join(dir, "ca.key"), "-out", join(dir, "cacert.pem"), "-subj", `/CN=${cn}-ca`, "-days", "2");
  for (const leaf of ["server", "client"]) {
    openssl("req", ...ec, "-keyout", join(dir, `${leaf}key.pem`), "-out", join(dir, `${leaf}.csr`), "-subj", `/CN=${cn}-${leaf}`);
    writeFileSync(join(dir, `${leaf}.ext`), `subjectAltName=${san}\n`);
    openssl(
      "x509",
      "-req",
      "-in",
      join(dir, `${leaf}.csr`),
      "-CA",
      join(dir, "cacert.pem"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(dir, `${leaf}cert.pem`),
      "-days",
      "2",
      "-extfile",
      join(dir, `${leaf}.ext`),
    );
  }
}

describe("libvirt RPC: qemu+tls:// against a real libvirtd", function () {
  this.timeout(120_000);
  let tcpUri: string;
  let tlsUri: string;
  let pki: string;
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-tls-real-"));

  before(() => {
    tcpUri = testbed("libvirt-peer.sh");
    tlsUri = testbed("libvirt-peer.sh", "tls-uri");
    pki = new URL(tlsUri.replace(/^qemu\+tls:/, "http:")).searchParams.get("pkipath")!;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A pkipath holding `ca` as the trusted CA and the given client certificate. */
  function pkipath(name: string, ca: string, clientDir: string): string {
    const out = join(dir, name);
    mkdirSync(out);
    copyFileSync(ca, join(out, "cacert.pem"));
    copyFileSync(join(clientDir, "clientcert.pem"), join(out, "clientcert.pem"));
    copyFileSync(join(clientDir, "clientkey.pem"), join(out, "clientkey.pem"));
    return out;
  }

  it("talks to libvirtd over TLS with the client certificate from pkipath", async () => {
    const c = await LibvirtClient.connect(tlsUri);
    try {
      assert.equal((await c.call("connectGetHostname")).hostname, virsh(tcpUri, "hostname").trim());
      // The same daemon as over TCP: its host UUID, not the main host's.
      const caps = (await c.call("connectGetCapabilities")).capabilities;
      assert.match(virsh(tcpUri, "capabilities"), new RegExp(/<uuid>([^<]+)<\/uuid>/.exec(caps)![1]));
      assert.doesNotMatch(virsh("qemu:///system", "capabilities"), new RegExp(/<uuid>([^<]+)<\/uuid>/.exec(caps)![1]));
    } finally {
      await c.close();
    }
  });

  it("refuses the daemon when its certificate is not from the CA we trust", async () => {
    const rogue = join(dir, "rogue-ca");
    makePki(rogue, "rogue", "IP:10.213.0.2");
    const uri = tlsUri.replace(pki, pkipath("trusts-rogue", join(rogue, "cacert.pem"), join(pki)));
    await assert.rejects(LibvirtClient.connect(uri), (e: unknown) => e instanceof LibvirtConnectionError && /\(TLS\)/.test(e.message) && /certificate/i.test(e.message));
  });

  it("is refused by libvirtd when our client certificate is not from its CA", async () => {
    const rogue = join(dir, "rogue-client-pki");
    makePki(rogue, "rogue", "IP:10.213.0.2");
    const uri = tlsUri.replace(pki, pkipath("rogue-client", join(pki, "cacert.pem"), rogue));
    const started = Date.now();
    await assert.rejects(LibvirtClient.connect(uri), (e: unknown) => e instanceof LibvirtConnectionError && /rejected our TLS client certificate/.test(e.message));
    assert.ok(Date.now() - started < 10_000, "refused promptly, not by a timeout");
  });
});

describe("libvirt RPC: qemu+tls:// transport", function () {
  this.timeout(30_000);
  useLibvirtTestbed();
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-tls-"));
  const good = join(dir, "good");
  const rogue = join(dir, "rogue");
  const servers: Server[] = [];

  function listen(checkByte: number): Promise<number> {
    const srv = createServer(
      {
        key: readFileSync(join(good, "serverkey.pem")),
        cert: readFileSync(join(good, "servercert.pem")),
        ca: readFileSync(join(good, "cacert.pem")),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (sock) => {
        sock.write(Buffer.from([checkByte]));
        if (checkByte === 1) serveConnection(sock, (s, f) => hostnameReply(s, f, `tls-peer:${sock.getPeerCertificate().subject.CN}`));
        else sock.end();
      },
    );
    servers.push(srv);
    return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as { port: number }).port)));
  }

  before(() => {
    makePki(good, "good", "DNS:localhost,IP:127.0.0.1");
    makePki(rogue, "rogue", "DNS:localhost,IP:127.0.0.1");
    // The client's pkipath holds exactly libvirt's file names.
    const clientPki = join(dir, "client-good");
    mkdirSync(clientPki);
    copyFileSync(join(good, "cacert.pem"), join(clientPki, "cacert.pem"));
    copyFileSync(join(good, "clientcert.pem"), join(clientPki, "clientcert.pem"));
    copyFileSync(join(good, "clientkey.pem"), join(clientPki, "clientkey.pem"));
  });

  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("connects with certificates from pkipath and presents the client certificate", async () => {
    const port = await listen(1);
    const c = await LibvirtClient.connect(`qemu+tls://localhost:${port}/system?pkipath=${join(dir, "client-good")}`);
    try {
      assert.equal((await c.call("connectGetHostname")).hostname, "tls-peer:good-client");
    } finally {
      await c.close();
    }
  });

  it("refuses a server whose certificate is not signed by our CA", async () => {
    const port = await listen(1);
    const pki = join(dir, "client-rogue-ca");
    mkdirSync(pki);
    copyFileSync(join(rogue, "cacert.pem"), join(pki, "cacert.pem"));
    copyFileSync(join(good, "clientcert.pem"), join(pki, "clientcert.pem"));
    copyFileSync(join(good, "clientkey.pem"), join(pki, "clientkey.pem"));
    await assert.rejects(
      LibvirtClient.connect(`qemu+tls://localhost:${port}/system?pkipath=${pki}`),
      (e: unknown) => e instanceof LibvirtConnectionError && /cannot connect to libvirt at localhost:\d+ \(TLS\)/.test(e.message),
    );
  });

  it("reports the daemon's refusal byte after the handshake", async () => {
    const port = await listen(0);
    await assert.rejects(LibvirtClient.connect(`qemu+tls://localhost:${port}/system?pkipath=${join(dir, "client-good")}`), /rejected our TLS client certificate/);
  });

  it("names a missing certificate file", async () => {
    await assert.rejects(LibvirtClient.connect(`qemu+tls://localhost:1/system?pkipath=${join(dir, "nowhere")}`), /cannot read TLS CA certificate .*nowhere\/cacert\.pem/);
  });
});
