import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { parseHosts } from "../../../provider/core/hosts";
import { parseCpuSet, type ResourceKind } from "../../../provider/core/model";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { diff } from "../../../provider/dynamic/runtime";
import { HOSTS, VALID_INPUTS } from "./fixtures";
import { useHosts } from "../../support/hosts";

function failures(kind: ResourceKind, news: Record<string, unknown>) {
  return checkInputs(kind, {}, news, HOSTS, capabilitiesOf).failures;
}

/** Exactly one failure on `property` whose reason matches. */
function refusedAt(kind: ResourceKind, news: Record<string, unknown>, property: string, reason: RegExp): void {
  const found = failures(kind, news);
  assert.ok(
    found.some((f) => f.property === property && reason.test(f.reason)),
    `${property} ${reason}: ${JSON.stringify(found)}`,
  );
  for (const f of found) assert.doesNotMatch(f.reason, /TypeError|Cannot read|undefined is not/);
}

const vm = VALID_INPUTS.VirtualMachine;

/** Issue 14, "Hostile or odd input": each case names the field and never crashes. */
describe("check() meets hostile input with a clear refusal", () => {
  for (const [field, value] of [
    ["\u0000", "NUL"],
    ["\u001b[2J", "ESC"],
    ["a\rb", "a carriage return"],
    ["\ufffe", "noncharacter U\\+FFFE"],
    ["\ud800", "lone surrogate"],
    ["\u0085", "control character"],
  ] as const) {
    it(`refuses ${JSON.stringify(field)} in free text, naming the field`, () => {
      refusedAt("VirtualMachine", { ...vm, console: { kind: "vnc", listen: `127.0.0.1${field}` } }, "console.listen", new RegExp(value));
      refusedAt("VirtualMachine", { ...vm, nics: { net0: { network: `lab${field}` } } }, "nics.net0.network", new RegExp(value));
      refusedAt("Snapshot", { ...VALID_INPUTS.Snapshot, description: `x${field}` }, "description", new RegExp(value));
    });
  }

  it("keeps line breaks where they are content (cloud-init, snapshot descriptions)", () => {
    assert.deepEqual(failures("VirtualMachine", { ...vm, cloudInit: { userData: "#cloud-config\r\nhostname: a\n" } }), []);
    assert.deepEqual(failures("Snapshot", { ...VALID_INPUTS.Snapshot, description: "line one\nline two" }), []);
  });

  it("caps lengths of fields that had none", () => {
    refusedAt("VirtualMachine", { ...vm, nics: { net0: { network: "n".repeat(300) } } }, "nics.net0.network", /at most 255/);
    refusedAt("VirtualMachine", { ...vm, console: { kind: "vnc", listen: "1".repeat(300) } }, "console.listen", /at most 255/);
    refusedAt("VirtualMachine", { ...vm, machine: "q".repeat(65) }, "machine", /at most 64/);
    refusedAt("StoragePool", { ...VALID_INPUTS.StoragePool, kind: "netfs", source: "s".repeat(2000) }, "source", /at most 1024/);
    refusedAt("VirtualMachine", { ...vm, cloudInit: { userData: "x".repeat(1024 * 1024 + 1) } }, "cloudInit.userData", /at most 1048576/);
  });

  it("refuses `..` in pool paths, uploads, kernels and datastore paths, and brackets in spliced names", () => {
    refusedAt("StoragePool", { ...VALID_INPUTS.StoragePool, path: "/var/lib/../../etc" }, "path", /`\.\.` path segment/);
    refusedAt("Volume", { ...VALID_INPUTS.Volume, uploadFrom: "/srv/images/../../etc/shadow" }, "uploadFrom", /`\.\.`/);
    refusedAt("VirtualMachine", { ...vm, kernelBoot: { kernel: "/boot/../etc/shadow" } }, "kernelBoot.kernel", /`\.\.`/);
    refusedAt("VirtualMachine", { ...vm, kernelBoot: { kernel: "/boot/vmlinuz", initrd: "/boot/../../x" } }, "kernelBoot.initrd", /`\.\.`/);
    refusedAt("VirtualMachine", { ...vm, host: "vc1", disks: { vda: { volume: "[ds1] ../../etc/shadow.vmdk" } } }, "disks.vda.volume", /`\.\.`/);
    refusedAt("Volume", { ...VALID_INPUTS.Volume, pool: "ds1] x" }, "pool", /`\[` or `\]`/);
    // Dots inside names stay fine.
    assert.deepEqual(failures("Volume", { ...VALID_INPUTS.Volume, name: "web..root.qcow2" }), []);
  });

  it("host names like Object.prototype members are just unknown hosts, in check and diff", async () => {
    for (const host of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]) {
      refusedAt("VirtualMachine", { ...vm, host }, "host", /not in the stack config|must be the name/);
    }
    await useHosts(HOSTS);
    try {
      await assert.rejects(
        diff("Network", "id", { ...VALID_INPUTS.Network, host: "constructor" }, { ...VALID_INPUTS.Network, host: "constructor" }),
        /host "constructor" is not in the stack config/,
      );
    } finally {
      delete process.env.NOVACRON_HOSTS;
    }
    assert.throws(() => parseHosts('{"__proto__": {"driver": "libvirt", "uri": "qemu:///system"}}', "novacron:hosts"), /__proto__: is not accepted/);
    assert.equal(parseHosts('{"a": {"driver": "libvirt", "uri": "qemu:///system"}}', "x").constructor, undefined);
  });

  it("refuses `__proto__` as a slot or label key instead of dropping it", () => {
    const labelled = JSON.parse(`{"host":"kvm1","name":"lab","mode":"isolated","cidr":"10.77.0.0/24","labels":{"__proto__":"x"}}`);
    refusedAt("Network", labelled, "labels.__proto__", /not accepted/);
    const slotted = JSON.parse(JSON.stringify(vm).replace('"disks":{', '"disks":{"__proto__":{"volume":"x"},'));
    refusedAt("VirtualMachine", slotted, "disks.__proto__", /not accepted/);
  });

  it("bounds CPU sets before expanding them, and refuses duplicate-looking pinning keys", () => {
    const started = Date.now();
    refusedAt("VirtualMachine", { ...vm, cpu: { cores: 1, pinning: { "0": "0-99999999" } } }, "cpu.pinning.0", /up to 4095/);
    assert.ok(Date.now() - started < 1000, "no expansion before the bound");
    assert.throws(() => parseCpuSet("0-99999999"), /within 0-4095/);
    refusedAt("VirtualMachine", { ...vm, cpu: { cores: 2, pinning: { "0": "0", "00": "1" } } }, "cpu.pinning.00", /leading zeros/);
    refusedAt("VirtualMachine", { ...vm, cpu: { cores: 1, pinning: { "0": "5-2" } } }, "cpu.pinning.0", /runs backwards/);
  });

  it("validates CIDRs: octets up to 255, prefixes /8 to /30", () => {
    const net = VALID_INPUTS.Network;
    refusedAt("Network", { ...net, cidr: "999.1.1.0/24" }, "cidr", /octets 0-255/);
    refusedAt("Network", { ...net, cidr: "10.0.0.0/0" }, "cidr", /\/8 to \/30/);
    refusedAt("Network", { ...net, cidr: "10.0.0.0/31" }, "cidr", /\/8 to \/30/);
    assert.deepEqual(failures("Network", { ...net, cidr: "10.0.0.0/8" }), []);
  });

  it("words odd numbers plainly", () => {
    refusedAt("VirtualMachine", { ...vm, cpu: { cores: Number.NaN } }, "cpu.cores", /got NaN; expected a finite number/);
    refusedAt("VirtualMachine", { ...vm, cpu: { cores: Number.POSITIVE_INFINITY } }, "cpu.cores", /got Infinity/);
    const huge = failures("VirtualMachine", { ...vm, cpu: { cores: 1e308 } });
    assert.deepEqual(
      huge.map((f) => f.reason),
      ["got 1e+308; must be at most 512"],
    );
    refusedAt("Volume", { ...VALID_INPUTS.Volume, sizeGiB: 0 }, "sizeGiB", /got 0; must be more than 0/);
    refusedAt("Volume", { ...VALID_INPUTS.Volume, sizeGiB: 5e-324 }, "sizeGiB", /at least 1 MiB/);
  });

  it("answers null inputs with a clear error", () => {
    const found = checkInputs("Volume", {}, null as unknown as Record<string, unknown>, HOSTS, capabilitiesOf).failures;
    assert.match(found[0].reason, /inputs must be an object of fields; got null/);
  });
});
