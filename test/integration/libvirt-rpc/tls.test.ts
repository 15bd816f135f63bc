// qemu+tls:// transport: certificates from a pkipath directory, server
// verification, and libvirt's post-handshake confirmation byte. The peer is
// the scripted fake daemon behind a real TLS server (enabling TLS on the
// shared libvirtd would mean restarting it under everyone's feet).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { LibvirtClient, LibvirtConnectionError } from "../../../provider/drivers/libvirt/rpc";
import { hostnameReply, serveConnection } from "./fake-daemon";
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
    openssl("x509", "-req", "-in", join(dir, `${leaf}.csr`), "-CA", join(dir, "cacert.pem"), "-CAkey", join(dir, "ca.key"),
      "-CAcreateserial", "-out", join(dir, `${leaf}cert.pem`), "-days", "2", "-extfile", join(dir, `${leaf}.ext`));
  }
}

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
    await assert.rejects(
      LibvirtClient.connect(`qemu+tls://localhost:${port}/system?pkipath=${join(dir, "client-good")}`),
      /rejected our TLS client certificate/,
    );
  });

  it("names a missing certificate file", async () => {
    await assert.rejects(LibvirtClient.connect(`qemu+tls://localhost:1/system?pkipath=${join(dir, "nowhere")}`), /cannot read TLS CA certificate .*nowhere\/cacert\.pem/);
  });
});
