// Pure logic that the daemon tests cannot pin down precisely: URI parsing
// rules, known_hosts matching, and XDR edge cases (padding, optional data,
// typed-parameter unions, hostile lengths).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { checkKnownHosts, parseLibvirtUri } from "../../../provider/drivers/libvirt/rpc";
import { array, decode, encode, int, optional, str, struct, uhyper } from "../../../provider/drivers/libvirt/rpc/codec";
import { typedParams, uuid } from "../../../provider/drivers/libvirt/rpc/types";
import { XdrError } from "../../../provider/drivers/libvirt/rpc/xdr";
import { useLibvirtTestbed } from "./testbed";

describe("libvirt RPC: URIs, known_hosts and XDR", () => {
  useLibvirtTestbed();

  describe("parseLibvirtUri", () => {
    const cases: [string, Partial<ReturnType<typeof parseLibvirtUri>>][] = [
      ["qemu:///system", { transport: "unix", serverName: "qemu:///system", socketPath: "/var/run/libvirt/libvirt-sock" }],
      ["test+unix:///default", { transport: "unix", serverName: "test:///default" }],
      ["qemu:///system?socket=/tmp/x.sock", { transport: "unix", socketPath: "/tmp/x.sock", serverName: "qemu:///system" }],
      ["qemu+tcp://h1/system", { transport: "tcp", host: "h1", port: undefined, serverName: "qemu:///system" }],
      ["qemu+tls://h2:16600/system", { transport: "tls", host: "h2", port: 16600, serverName: "qemu:///system" }],
      ["qemu://h3/system", { transport: "tls", host: "h3", serverName: "qemu:///system" }],
      [
        "qemu+ssh://ops@h4:2222/system?keyfile=/k&known_hosts=/kh&no_tty=1",
        { transport: "ssh", user: "ops", host: "h4", port: 2222, serverName: "qemu:///system", socketPath: "/var/run/libvirt/libvirt-sock" },
      ],
      ["qemu+ssh://[fe80::1]:22/system", { transport: "ssh", host: "fe80::1", port: 22 }],
      // Parameters the client does not consume are forwarded to the daemon.
      ["test+tcp://h5/default?foo=bar&keyfile=/k", { serverName: "test:///default?foo=bar" }],
      ["qemu+ssh://h6/system?name=qemu:///session", { serverName: "qemu:///session" }],
    ];
    for (const [raw, want] of cases) {
      it(raw, () => {
        const got = parseLibvirtUri(raw);
        for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, `${k} of ${raw}`);
      });
    }
    it("rejects unsupported or inconsistent URIs", () => {
      assert.throws(() => parseLibvirtUri("qemu+libssh2://h/system"), /unsupported libvirt transport "libssh2"/);
      assert.throws(() => parseLibvirtUri("qemu+unix://h/system"), /unix transport cannot name a host/);
      assert.throws(() => parseLibvirtUri("qemu+ssh:///system"), /ssh transport needs a host/);
      assert.throws(() => parseLibvirtUri("not a uri"), /not a libvirt URI/);
    });
  });

  describe("checkKnownHosts", () => {
    const key = randomBytes(51);
    const other = randomBytes(51);
    const b64 = key.toString("base64");
    it("matches plain, [host]:port, wildcard and hashed entries", () => {
      assert.equal(checkKnownHosts(`h1,h2 ssh-ed25519 ${b64}\n`, "h2", 22, key), "match");
      assert.equal(checkKnownHosts(`[h1]:2222 ssh-ed25519 ${b64}\n`, "h1", 2222, key), "match");
      assert.equal(checkKnownHosts(`h1 ssh-ed25519 ${b64}\n`, "h1", 2222, key), "unknown", "port 22 entry does not cover 2222");
      assert.equal(checkKnownHosts(`*.lab ssh-ed25519 ${b64}\n`, "kvm1.lab", 22, key), "match");
      assert.equal(checkKnownHosts(`*.lab,!kvm9.lab ssh-ed25519 ${b64}\n`, "kvm9.lab", 22, key), "unknown");
      const salt = randomBytes(20);
      const mac = createHmac("sha1", salt).update("kvm2").digest("base64");
      assert.equal(checkKnownHosts(`|1|${salt.toString("base64")}|${mac} ssh-ed25519 ${b64}\n`, "kvm2", 22, key), "match");
    });
    it("distinguishes changed, unknown and revoked keys", () => {
      assert.equal(checkKnownHosts(`h1 ssh-ed25519 ${other.toString("base64")}\n`, "h1", 22, key), "mismatch");
      assert.equal(checkKnownHosts(`# comment\n\nh9 ssh-ed25519 ${b64}\n`, "h1", 22, key), "unknown");
      assert.equal(checkKnownHosts(`@revoked * ssh-ed25519 ${b64}\nh1 ssh-ed25519 ${b64}\n`, "h1", 22, key), "revoked");
      // A second line with the right key wins over an outdated one.
      assert.equal(checkKnownHosts(`h1 ssh-rsa ${other.toString("base64")}\nh1 ssh-ed25519 ${b64}\n`, "h1", 22, key), "match");
    });
  });

  describe("XDR codecs", () => {
    it("pads strings and opaque data to 4 bytes and round-trips them", () => {
      const c = struct({ s: str, n: int, big: uhyper, o: optional(str), list: array(int, 10) });
      const v = { s: "héllo", n: -7, big: 2n ** 63n + 5n, o: null, list: [1, 2, 3] };
      const bytes = encode(c, v);
      // "héllo" is 6 UTF-8 bytes: 4 (length) + 6 + 2 (pad).
      assert.equal(bytes.readUInt32BE(0), 6);
      assert.deepEqual([...bytes.subarray(10, 12)], [0, 0]);
      assert.deepEqual(decode(c, bytes), v);
    });
    it("round-trips every typed-parameter arm", () => {
      const params = [
        { field: "i", type: "int", value: -1 },
        { field: "u", type: "uint", value: 4294967295 },
        { field: "l", type: "llong", value: -(2n ** 40n) },
        { field: "ul", type: "ullong", value: 2n ** 64n - 1n },
        { field: "d", type: "double", value: 0.25 },
        { field: "b", type: "boolean", value: true },
        { field: "s", type: "string", value: "tcp://10.0.0.2" },
      ] as const;
      assert.deepEqual(decode(typedParams, encode(typedParams, [...params])), params);
    });
    it("formats UUIDs canonically", () => {
      const u = "6695eb01-f6a4-8304-79aa-97f2502e193f";
      assert.equal(encode(uuid, u).length, 16);
      assert.equal(decode(uuid, encode(uuid, u)), u);
      assert.throws(() => encode(uuid, "nope"), XdrError);
    });
    it("refuses hostile lengths, truncation and trailing bytes", () => {
      const huge = Buffer.alloc(8);
      huge.writeUInt32BE(0xfffffff0, 0);
      assert.throws(() => decode(str, huge), /exceeds limit/);
      const count = Buffer.alloc(8);
      count.writeUInt32BE(5, 0);
      assert.throws(() => decode(array(int, 10), count), /truncated/);
      assert.throws(() => decode(int, Buffer.alloc(8)), /trailing bytes/);
      assert.throws(() => decode(optional(int), Buffer.from([0, 0, 0, 7, 0, 0, 0, 1])), /bad optional discriminant/);
    });
  });
});
