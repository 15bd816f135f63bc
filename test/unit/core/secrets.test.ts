import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { parseHosts } from "../../../provider/core/hosts";
import { logLine, redact, redactError, redactUrlUserinfo, wrapSecretInputs } from "../../../provider/core/redact";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { check } from "../../../provider/dynamic/runtime";
import { HOSTS, VALID_INPUTS } from "./fixtures";
import { useHosts } from "../../support/hosts";

/** A value that must never appear in any message; distinctive so a partial echo is caught too. */
const CANARY = "CANARY-7f3a9c-secret";
const vm = VALID_INPUTS.VirtualMachine;

function assertNoCanary(text: string): void {
  assert.ok(!text.includes(CANARY) && !text.includes("7f3a9c"), `secret leaked: ${text}`);
}

/** Issue 14, "Secrets": one redaction path, exercised by a canary in every secret field. */
describe("secrets never reach an error or a log line", () => {
  const secretShapes: [string, Record<string, unknown>][] = [
    ["cloudInit given as a string", { ...vm, cloudInit: `#cloud-config\npassword: ${CANARY}\n` }],
    ["cloudInit given as a one-line string", { ...vm, cloudInit: CANARY }],
    ["cloudInit.userData of the wrong type", { ...vm, cloudInit: { userData: [CANARY] } }],
    ["cloudInit with an unknown part", { ...vm, cloudInit: { userData: CANARY, extra: CANARY } }],
    ["console given as a string", { ...vm, console: CANARY }],
    ["console.password of the wrong type", { ...vm, console: { kind: "vnc", password: { value: CANARY } } }],
    ["console.password with a control character", { ...vm, console: { kind: "vnc", password: `${CANARY}\u0007` } }],
    ["console.password too long", { ...vm, console: { kind: "vnc", password: CANARY.repeat(300) } }],
    [
      "a valid secret beside a capability failure",
      { ...vm, host: "hv1", cpu: { cores: 1, pinning: { "0": "1" } }, console: { kind: "vnc", password: CANARY }, cloudInit: { userData: CANARY } },
    ],
  ];
  for (const [name, news] of secretShapes) {
    it(`check() does not echo: ${name}`, async () => {
      const core = checkInputs("VirtualMachine", {}, news, HOSTS, capabilitiesOf);
      assert.ok(core.failures.length > 0, "the case must fail somewhere");
      for (const f of core.failures) assertNoCanary(`${f.property}: ${f.reason}`);
      await useHosts(HOSTS);
      try {
        const result = await check("VirtualMachine", {}, news);
        for (const f of result.failures ?? []) assertNoCanary(`${f.property}: ${f.reason}`);
      } finally {
        delete process.env.NOVACRON_HOSTS;
      }
    });
  }

  it("redacts URL passwords in any scheme, keeping the user name", () => {
    const text = `cannot connect to qemu+ssh://root:${CANARY}@kvm2/system and https://admin:${encodeURIComponent(CANARY)}@vc.example/sdk`;
    const out = redactUrlUserinfo(text);
    assertNoCanary(out);
    assert.match(out, /qemu\+ssh:\/\/root:\[secret\]@kvm2\/system/);
    assert.match(out, /https:\/\/admin:\[secret\]@vc\.example/);
    assert.equal(redactUrlUserinfo("qemu+ssh://root@kvm2/system"), "qemu+ssh://root@kvm2/system");
  });

  it("redacts a secret however a daemon quotes it: XML-escaped, JSON-escaped, one line of many", () => {
    const password = `${CANARY}<&'">`;
    const daemon = `XML error: <graphics type='vnc' passwd='${password.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;")}'/>`;
    assertNoCanary(redact(daemon, [password]));
    const userData = `#cloud-config\nusers:\n  - passwd: ${CANARY}\n`;
    assertNoCanary(redact(`line 3: "  - passwd: ${CANARY}"`, [userData]));
    assertNoCanary(redact(JSON.stringify(userData), [userData]));
  });

  it("host credentials are redacted once the hosts are known", () => {
    const hosts = parseHosts(JSON.stringify({ vc: { driver: "vsphere", url: "https://vc.example/sdk", username: "ops", password: `${CANARY}-vc`, datacenter: "DC0" } }), "x");
    // The dynamic layer registers them; here through the same function it uses.
    const { hostSecrets } = require("../../../provider/core/hosts") as typeof import("../../../provider/core/hosts");
    const { registerSecret } = require("../../../provider/core/redact") as typeof import("../../../provider/core/redact");
    hostSecrets(hosts).forEach(registerSecret);
    assertNoCanary(redact(`ServerFaultCode: login failed for ops/${CANARY}-vc`));
    assertNoCanary(logLine(`progress: ${CANARY}-vc`));
  });

  it("a failed create's properties carry secret fields as Pulumi secrets, and its reasons are redacted", () => {
    const props = wrapSecretInputs({ name: "web", console: { kind: "vnc", password: CANARY }, cloudInit: { userData: CANARY } }, ["cloudInit.userData", "console.password"]);
    assert.equal((props.console as Record<string, unknown>)["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    assert.equal((props.cloudInit as Record<string, unknown>)["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    const error = redactError(Object.assign(new Error(`boom ${CANARY}`), { id: "x", properties: props, reasons: [`boom ${CANARY}`] }), [CANARY]);
    assertNoCanary(error.message);
    assertNoCanary(JSON.stringify((error as Error & { reasons: string[] }).reasons));
    assert.equal((error as Error & { id: string }).id, "x");
  });

  it("log lines show control characters escaped (no terminal injection)", () => {
    const line = logLine("uploading /srv/a\u001b[2J\rfake: done\nnext");
    assert.doesNotMatch(line, /[\u0000-\u001f]/);
    assert.match(line, /\\u001b\[2J\\u000dfake: done\\u000anext/);
  });

  it("a vSphere (or Proxmox, XCP-ng) entry with http:// is refused unless insecurePlainHttp: true", () => {
    const entry = { driver: "vsphere", url: "http://vc.example/sdk", username: "ops", password: "pw-123456", datacenter: "DC0" };
    assert.throws(
      () => parseHosts(JSON.stringify({ vc: entry }), "novacron:hosts"),
      (e: Error) => /vc\.url: .*plain http:\/\/.*insecurePlainHttp: true/.test(e.message) && !e.message.includes("pw-123456"),
    );
    assert.equal(parseHosts(JSON.stringify({ vc: { ...entry, insecurePlainHttp: true } }), "x").vc.driver, "vsphere");
    assert.throws(() => parseHosts(JSON.stringify({ x: { driver: "xcpng", url: "http://xcp", username: "root", password: "pw-123456" } }), "h"), /plain http/);
  });
});
