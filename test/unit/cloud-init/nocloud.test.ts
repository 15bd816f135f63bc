import assert from "node:assert/strict";
import { buildNoCloudSeed, seedInstanceId, seedMetaData } from "../../../provider/core/cloud-init";

const SECRET = "#cloud-config\nchpasswd: { list: 'root:hunter2-SECRET-MARKER' }\n";

describe("cloud-init: seedInstanceId", () => {
  it("is nc- plus 16 hex digits and stable for the same contents", () => {
    const id = seedInstanceId(SECRET, "a: 1\n", "version: 2\n");
    assert.match(id, /^nc-[0-9a-f]{16}$/);
    assert.equal(seedInstanceId(SECRET, "a: 1\n", "version: 2\n"), id);
  });

  it("changes when any part of the seed changes", () => {
    const ids = new Set([seedInstanceId(SECRET), seedInstanceId(`${SECRET}runcmd: [true]\n`), seedInstanceId(SECRET, "a: 1\n"), seedInstanceId(SECRET, undefined, "version: 2\n")]);
    assert.equal(ids.size, 4);
  });

  it("tells absent from empty and does not let bytes slide between fields", () => {
    assert.notEqual(seedInstanceId("x"), seedInstanceId("x", ""));
    assert.notEqual(seedInstanceId("x", undefined, ""), seedInstanceId("x", "", undefined));
    assert.notEqual(seedInstanceId("ab", "c"), seedInstanceId("a", "bc"));
  });

  it("with a salt, cannot be recomputed from guessed user data without it", () => {
    const salted = seedInstanceId(SECRET, undefined, undefined, "0f".repeat(16));
    assert.match(salted, /^nc-[0-9a-f]{16}$/);
    assert.equal(seedInstanceId(SECRET, undefined, undefined, "0f".repeat(16)), salted, "stable under the same salt");
    assert.notEqual(salted, seedInstanceId(SECRET), "differs from the unsalted id a guesser could compute");
    assert.notEqual(salted, seedInstanceId(SECRET, undefined, undefined, "1e".repeat(16)), "differs per salt");
    assert.notEqual(salted, seedInstanceId(`${SECRET}runcmd: [true]\n`, undefined, undefined, "0f".repeat(16)), "still follows the content");
  });
});

describe("cloud-init: meta-data", () => {
  it("is generated from instance-id and hostname when not given", () => {
    assert.equal(seedMetaData({ instanceId: "nc-1", hostname: "web-1.example" }), "instance-id: nc-1\nlocal-hostname: web-1.example\n");
    assert.equal(seedMetaData({ instanceId: "nc-1" }), "instance-id: nc-1\n");
  });

  it("is kept byte-for-byte when it already names an instance-id", () => {
    const given = "instance-id: mine\r\nlocal-hostname: h\r\n";
    assert.equal(seedMetaData({ metaData: given, instanceId: "nc-1", hostname: "other" }), given);
    const json = '{"instance-id": "mine", "local-hostname": "h"}';
    assert.equal(seedMetaData({ metaData: json, instanceId: "nc-1", hostname: "other" }), json);
  });

  it("gains the missing keys, after a leading document marker", () => {
    assert.equal(seedMetaData({ metaData: "public-keys: []\n", instanceId: "nc-1" }), "instance-id: nc-1\npublic-keys: []\n");
    assert.equal(seedMetaData({ metaData: "# seed\n---\nlocal-hostname: h\n", instanceId: "nc-1", hostname: "x" }), "# seed\n---\ninstance-id: nc-1\nlocal-hostname: h\n");
    // A nested instance-id is not the top-level key cloud-init reads.
    assert.match(seedMetaData({ metaData: "x:\n  instance-id: n\n", instanceId: "nc-1" }), /^instance-id: nc-1\n/);
  });

  it("adds keys to JSON meta-data as JSON", () => {
    const out = seedMetaData({ metaData: '{"local-hostname": "h"}', instanceId: "nc-1" });
    assert.deepEqual(JSON.parse(out), { "instance-id": "nc-1", "local-hostname": "h" });
  });

  it("refuses ids and host names that could inject YAML", () => {
    assert.throws(() => seedMetaData({ instanceId: "a\nruncmd: [x]" }), /instanceId/);
    assert.throws(() => seedMetaData({ instanceId: "" }), /instanceId/);
    assert.throws(() => seedMetaData({ instanceId: "nc-1", hostname: "a: b" }), /hostname/);
    assert.throws(() => seedMetaData({ metaData: "{ a: 1 }", instanceId: "nc-1" }), /JSON object/);
  });
});

describe("cloud-init: seed image", () => {
  it("is byte-identical across builds of the same input", () => {
    const input = { userData: SECRET, networkConfig: "version: 2\n", instanceId: seedInstanceId(SECRET), hostname: "vm" };
    const first = buildNoCloudSeed(input);
    const second = buildNoCloudSeed({ ...input });
    assert.equal(first.length % 2048, 0);
    assert.ok(first.equals(second));
    assert.ok(!first.equals(buildNoCloudSeed({ ...input, userData: `${SECRET}#\n` })));
  });

  it("never puts user data into errors or the console", () => {
    const calls: unknown[][] = [];
    const saved = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
    for (const level of Object.keys(saved) as (keyof typeof saved)[])
      console[level] = (...args: unknown[]) => {
        calls.push(args);
      };
    try {
      buildNoCloudSeed({ userData: SECRET, instanceId: "nc-1" });
      for (const bad of [
        { userData: SECRET, instanceId: "bad id" },
        { userData: SECRET, instanceId: "nc-1", hostname: "-" },
        { userData: SECRET, metaData: "{ flow: 1 }", instanceId: "nc-1" },
        // Deliberately wrong type to exercise the runtime guard for untyped callers.
        { userData: { secret: SECRET } as unknown as string, instanceId: "nc-1" },
      ]) {
        assert.throws(
          () => buildNoCloudSeed(bad),
          (e: Error) => !e.message.includes("SECRET-MARKER") && !String(e.stack).includes("SECRET-MARKER"),
        );
      }
    } finally {
      Object.assign(console, saved);
    }
    assert.deepEqual(calls, []);
  });
});
