import assert from "node:assert/strict";
import { XMLValidator } from "fast-xml-parser";
import { checkInputs } from "../../../provider/core/check";
import type { NetworkSpec, ResourceKind, StoragePoolSpec, VirtualMachineSpec } from "../../../provider/core/model";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { buildDomainXml, buildNetworkXml, buildStoragePoolXml, parseDomainXml, parseNetworkXml, parseStoragePoolXml } from "../../../provider/drivers/libvirt/xml";
import { MoRef } from "../../../provider/drivers/vsphere/soap";
import { envelope } from "../../../provider/drivers/vsphere/soap/xml";
import { toVmSpec } from "../../../provider/drivers/vsphere/translate";
import { createConfigSpec } from "../../../provider/drivers/vsphere/vm";
import { HOSTS, VALID_INPUTS } from "./fixtures";

/**
 * Issue 14's capstone: random strings, numbers and keys in every field of every kind, through
 * check(). Each case ends one of two ways: a failure naming the field (no crash, no stack
 * trace wording), or inputs that the libvirt builders turn into well-formed XML reading back
 * the same values, and the vSphere builder into a well-formed SOAP envelope.
 */

/** Deterministic, so a failure names a seed that replays it. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const NASTY = [
  "\u0000",
  "\u0007",
  "\u001b[31m",
  "\r",
  "\n",
  "\t",
  "\ufffe",
  "\uffff",
  "\ud800",
  "\u0085",
  "\u2028",
  "<",
  ">",
  "&",
  "'",
  '"',
  "]]>",
  "../",
  "..",
  "[",
  "]",
  "/",
  " ",
  "é",
  "😀",
  "%00",
  "$(id)",
  "`",
  "\\",
];

function randomString(random: () => number): string {
  const length = random() < 0.05 ? 300 + Math.floor(random() * 5000) : Math.floor(random() * 12);
  let out = "";
  while (out.length < length) {
    const r = random();
    out +=
      r < 0.3
        ? NASTY[Math.floor(random() * NASTY.length)]
        : r < 0.9
          ? "abcdefghij0123456789-_.".charAt(Math.floor(random() * 23))
          : String.fromCharCode(Math.floor(random() * 0x3000));
  }
  return out.slice(0, length);
}

function randomNumber(random: () => number): number {
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, -1, 1e308, 5e-324, 2 ** 53, 0.5, 4095, 4096, 65536];
  return random() < 0.5 ? specials[Math.floor(random() * specials.length)] : Math.round((random() - 0.3) * 10 ** Math.floor(random() * 8));
}

const KEYS = ["__proto__", "constructor", "toString", "00", "0", "vda", "net0", "hostdev0", "a.b", "", " ", "ключ"];

function randomValue(random: () => number, like: unknown): unknown {
  const r = random();
  if (r < 0.45) return randomString(random);
  if (r < 0.75) return randomNumber(random);
  if (r < 0.85 && like !== null && typeof like === "object" && !Array.isArray(like)) {
    // The same object with one random key added: records (labels, disks, pinning) take keys.
    return JSON.parse(JSON.stringify({ ...like, [KEYS[Math.floor(random() * KEYS.length)] || randomString(random)]: randomString(random) }));
  }
  return [null, true, [], {}, [randomString(random)]][Math.floor(random() * 5)];
}

/** Every dotted leaf path of a valid spec, plus fields the fixtures leave out. */
const EXTRA_PATHS: Partial<Record<ResourceKind, string[]>> = {
  VirtualMachine: [
    "machine",
    "console.listen",
    "console.password",
    "cpu.model",
    "cpu.pinning.0",
    "kernelBoot.kernel",
    "kernelBoot.cmdline",
    "cloudInit.userData",
    "labels.team",
    "nics.net0.bridge",
    "disks.vda.pool",
  ],
  Network: ["bridge", "labels.team", "dhcp.start"],
  StoragePool: ["source", "labels.team"],
  Volume: ["uploadFrom", "cloneFrom", "labels.team"],
  Snapshot: ["description", "vm"],
  PassthroughDevice: ["labels.team"],
  Container: ["restoreFrom", "cpu.limit", "memory.swapMiB", "mountPoints.mp0.readOnly", "nics.net0.vlan", "sshPublicKeys", "labels.team"],
  Backup: ["notes", "retention.keepDaily", "compress", "mode"],
};

function leafPaths(value: unknown, prefix = ""): string[] {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

function withValueAt(root: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(root);
  const keys = path.split(".");
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  Object.defineProperty(node, keys[keys.length - 1], { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const CRASH_WORDING = /TypeError|ReferenceError|Cannot read|Cannot destructure|is not a function|undefined is not|\[object Object\]|at .*\.ts:\d+/;

/** The libvirt XML for accepted inputs: well-formed, and the values read back unchanged. */
function libvirtRoundTrip(kind: ResourceKind, spec: Record<string, unknown>, label: string): void {
  if (kind === "VirtualMachine") {
    const vm = spec as VirtualMachineSpec;
    const xml = buildDomainXml(vm, {
      type: "qemu",
      disks: Object.fromEntries(Object.keys(vm.disks).map((slot) => [slot, { kind: "file" as const, path: `/stand-in/${slot}`, format: "qcow2" as const }])),
      passthrough: {},
      cloudInitSeed: vm.cloudInit ? "/stand-in/seed.iso" : undefined,
      boot: vm.kernelBoot,
      ownership: { resource: vm.name },
    });
    assert.equal(XMLValidator.validate(xml), true, `${label}: domain XML not well-formed`);
    const back = parseDomainXml(xml);
    assert.deepEqual(back.labels, vm.labels, `${label}: labels`);
    assert.equal(back.name, vm.name, `${label}: name`);
    if (vm.console.kind !== "none") assert.equal(back.console.listen, vm.console.listen, `${label}: console.listen`);
    for (const [slot, nic] of Object.entries(vm.nics)) if (nic.network) assert.equal(back.nics[slot]?.network, nic.network, `${label}: nics.${slot}.network`);
  } else if (kind === "Network") {
    const net = spec as NetworkSpec;
    const xml = buildNetworkXml(net, { ownership: { resource: net.name } });
    assert.equal(XMLValidator.validate(xml), true, `${label}: network XML not well-formed`);
    const back = parseNetworkXml(xml);
    assert.deepEqual(back.labels, net.labels, `${label}: labels`);
    assert.equal(back.cidr, net.cidr, `${label}: cidr`);
  } else if (kind === "StoragePool") {
    const pool = spec as StoragePoolSpec;
    if (pool.adopt || !["dir", "fs", "netfs", "logical"].includes(pool.kind)) return;
    const xml = buildStoragePoolXml(pool);
    assert.equal(XMLValidator.validate(xml), true, `${label}: pool XML not well-formed`);
    const back = parseStoragePoolXml(xml);
    if (pool.path) assert.equal(back.path, pool.path, `${label}: path`);
  }
}

/** The vSphere CreateVM envelope for accepted VM inputs: well-formed SOAP. */
function soapWellFormed(spec: VirtualMachineSpec, label: string): void {
  const networks = Object.fromEntries(Object.keys(spec.nics).map((slot) => [slot, { kind: "standard" as const, network: new MoRef("Network", "network-1"), name: "VM Network" }]));
  let vmSpec;
  try {
    vmSpec = toVmSpec(spec, networks);
  } catch (error) {
    // A refusal of the vSphere translation is a named field error, checked by check() itself.
    assert.doesNotMatch(String(error), CRASH_WORDING, label);
    return;
  }
  const xml = envelope("CreateVM_Task", new MoRef("Folder", "group-v3"), { config: createConfigSpec(vmSpec, "LocalDS_0") });
  assert.equal(XMLValidator.validate(xml), true, `${label}: SOAP not well-formed`);
}

describe("property: random values in every field give a named refusal or well-formed, faithful XML/SOAP", function () {
  this.timeout(120_000);
  const CASES_PER_FIELD = Number(process.env.NOVACRON_PROPERTY_CASES ?? 25);
  // Kinds only Proxmox VE manages are driven there, through its translation checks.
  const PVE_ONLY: ResourceKind[] = ["Container", "Backup"];
  const kinds: ResourceKind[] = ["VirtualMachine", "Network", "StoragePool", "Volume", "Snapshot", "PassthroughDevice", "Container", "Backup"];

  for (const kind of kinds) {
    it(`${kind}: every field, ${CASES_PER_FIELD} random values each`, () => {
      const base = VALID_INPUTS[kind];
      // Hosts whose driver takes the unmutated spec: elsewhere every failure would be the base's own.
      const hosts = (PVE_ONLY.includes(kind) ? ["pve1"] : ["kvm1", "vc1"]).filter((host) => checkInputs(kind, {}, { ...base, host }, HOSTS, capabilitiesOf).failures.length === 0);
      const paths = [...new Set([...leafPaths(base), ...(EXTRA_PATHS[kind] ?? [])])];
      let accepted = 0;
      let refused = 0;
      for (const [pathIndex, path] of paths.entries()) {
        for (let i = 0; i < CASES_PER_FIELD; i++) {
          const seed = kind.length * 1_000_003 + pathIndex * 10_007 + i;
          const random = rng(seed);
          const value = randomValue(
            random,
            path.split(".").reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], base),
          );
          const news = withValueAt(base, path, value);
          const label = `${kind}.${path} seed ${seed} value ${JSON.stringify(value)?.slice(0, 60)}`;
          for (const host of path === "host" ? [undefined] : hosts) {
            let outcome;
            try {
              outcome = checkInputs(kind, {}, host === undefined ? news : { ...news, host }, HOSTS, capabilitiesOf);
            } catch (error) {
              assert.fail(`${label} on ${host}: check() threw ${String(error)}`);
            }
            if (outcome.failures.length > 0) {
              refused++;
              for (const f of outcome.failures) {
                assert.equal(typeof f.reason, "string", label);
                assert.doesNotMatch(f.reason, CRASH_WORDING, `${label}: ${f.reason}`);
              }
              // The mutated field (or an enclosing or enclosed one) is named, or a field the
              // change made inconsistent names it in its reason.
              const top = path.split(".")[0];
              const named = outcome.failures.some((f) => f.property.split(".")[0] === top || f.property === "" || f.reason.includes(top));
              assert.ok(named, `${label} on ${host}: failures do not name ${path}: ${JSON.stringify(outcome.failures)}`);
              continue;
            }
            accepted++;
            const spec = outcome.inputs;
            if (spec.host === "kvm1" || spec.host === "kvm2") libvirtRoundTrip(kind, spec, label);
            else if (spec.host === "vc1" && kind === "VirtualMachine") soapWellFormed(spec as VirtualMachineSpec, label);
          }
        }
      }
      if (process.env.NOVACRON_PROPERTY_REPORT) console.log(`${kind}: ${paths.length} fields, ${accepted} accepted, ${refused} refused`);
      assert.ok(refused > 0 && accepted > 0, `both outcomes occur (accepted ${accepted}, refused ${refused})`);
    });
  }
});
