import assert from "node:assert/strict";
import { parseHosts } from "../../../provider/core/hosts";
import { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { PveApiError, PveTransportError } from "../../../provider/drivers/proxmox/api/errors";
import { fakepve } from "./testbed";

/** The client's trust and authentication against fakepve's TLS endpoint and its login checks. */
describe("Proxmox VE client: TLS trust and authentication (fakepve)", function () {
  this.timeout(30_000);
  const pve = fakepve();
  const clients: PveClient[] = [];
  const client = (options: Partial<ConstructorParameters<typeof PveClient>[0]>): PveClient => {
    const c = new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, ...options });
    clients.push(c);
    return c;
  };
  after(() => Promise.all(clients.map((c) => c.close())));

  it("verifies TLS by default: the node's self-signed certificate is refused without a CA or a pin", async () => {
    await assert.rejects(client({}).get("/version"), (e: unknown) => e instanceof PveTransportError && /self[- ]signed certificate/.test(e.message));
  });

  it("trusts a CA file, or exactly the pinned fingerprint (with or without colons, any case)", async () => {
    assert.equal((await client({ caFile: pve.caFile }).get<{ repoid: string }>("/version")).repoid, "fakepve");
    assert.equal((await client({ fingerprint: pve.fingerprint }).get<{ repoid: string }>("/version")).repoid, "fakepve");
    assert.equal((await client({ fingerprint: pve.fingerprint.replace(/:/g, "").toLowerCase() }).get<{ repoid: string }>("/version")).repoid, "fakepve");
  });

  it("a wrong pin is refused before any credential is sent, naming both fingerprints", async () => {
    const wrong = `${"AB:".repeat(31)}AB`;
    const c = client({ fingerprint: wrong });
    await assert.rejects(
      c.get("/version"),
      (e: unknown) => e instanceof PveTransportError && e.message.includes(`is not the pinned ${wrong}`) && e.message.includes(pve.fingerprint),
    );
    assert.doesNotMatch(String(await c.get("/version").catch((e: Error) => e.message)), new RegExp(pve.password));
  });

  it("logs in with a ticket and sends the CSRF token on writes; a wrong password is PVE's 401", async () => {
    const c = client({ caFile: pve.caFile });
    // A write needs the CSRF token besides the ticket cookie; a config write of a missing VM gets past auth to PVE's 500.
    await assert.rejects(c.put(`/nodes/${pve.node}/qemu/999999/config`, { description: "x" }), (e: unknown) => e instanceof PveApiError && e.isMissingGuest);
    const bad = client({ caFile: pve.caFile, auth: { kind: "password", username: pve.username, password: "not-the-password" } });
    await assert.rejects(
      bad.get("/version"),
      (e: unknown) => e instanceof PveApiError && e.status === 401 && /authentication failure/.test(e.message) && !e.message.includes("not-the-password"),
    );
  });

  it("sends an API token as PVE reads it; fakepve's command line cannot create tokens, so an unknown one is refused", async () => {
    // fakepve's token check splits `PVEAPIToken=<user@realm!id>=<secret>` the way PVE does and answers 401 for an unknown token.
    const c = client({ caFile: pve.caFile, auth: { kind: "token", tokenId: "root@pam!novacron", secret: "0b8e-not-a-real-secret" } });
    await assert.rejects(c.get("/version"), (e: unknown) => e instanceof PveApiError && e.status === 401 && !e.message.includes("0b8e-not-a-real-secret"));
  });

  it("host entries: one way to log in, and errors name fields without echoing secrets", () => {
    const base = { driver: "proxmox", url: pve.url, node: pve.node };
    assert.doesNotThrow(() => parseHosts(JSON.stringify({ p: { ...base, tokenId: "novacron@pve!ci", tokenSecret: "s3cret" } }), "novacron:hosts"));
    assert.doesNotThrow(() => parseHosts(JSON.stringify({ p: { ...base, username: "root@pam", password: "pw", fingerprint: pve.fingerprint } }), "novacron:hosts"));
    assert.throws(
      () => parseHosts(JSON.stringify({ p: { ...base, tokenId: "novacron@pve!ci", tokenSecret: "s3cret", username: "root@pam", password: "pw" } }), "novacron:hosts"),
      /p\.tokenId: got a secret value; give either tokenId and tokenSecret/,
    );
    assert.throws(
      () => parseHosts(JSON.stringify({ p: { ...base, tokenId: "novacron", tokenSecret: "s3cret" } }), "novacron:hosts"),
      (e: Error) => /must be an API token id user@realm!tokenname/.test(e.message) && !e.message.includes("s3cret"),
    );
  });
});
