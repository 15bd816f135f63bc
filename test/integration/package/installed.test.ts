import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { ResourceKind } from "../../../provider/core/model";
import { installNovacron, packNovacron, REPO, type PackedNovacron } from "../../support/pack";
import { ProviderHost } from "../../support/provider-host";

const run = promisify(execFile);
const NODE = path.join(REPO, "node_modules/.bin/node");
/** Node 22 runs .ts files by stripping types; off, so nothing TypeScript can slip through. */
const NO_TS = "--no-experimental-strip-types";

interface Probe {
  main: string;
  policyEntry: string;
  runtimeEntry: string;
  exports: string[];
  policyExports: string[];
  afterImport: { files: string[]; zodLoaded: boolean };
  afterLibvirtCapabilities: { product: string; files: string[]; vsphereOrUndici: string[] };
  typescriptInstalled: Record<string, boolean>;
  stripTypes: boolean;
  providers: Record<string, string>;
}

/**
 * The package as a user installs it: `npm pack`, then `npm install <tgz>` in a fresh project
 * outside the repository. It must run with no TypeScript compiler anywhere, load only what a
 * program needs, and its dynamic providers must work in Pulumi's real provider host.
 */
describe("the packed package in a user's project outside the repository", function () {
  this.timeout(240_000);
  let packed: PackedNovacron;
  let project: string;
  let probe: Probe;

  before(async () => {
    packed = await packNovacron();
    // @pulumi/policy is an optional peer: a project using novacron/policy (a policy pack) has it.
    const policyVersion = (require(path.join(REPO, "node_modules/@pulumi/policy/package.json")) as { version: string }).version;
    project = await installNovacron(packed.tgz, { dependencies: { "@pulumi/policy": policyVersion } });
    copyFileSync(path.join(__dirname, "probe.js"), path.join(project, "probe.js"));
    const { stdout } = await run(NODE, [NO_TS, "probe.js"], { cwd: project, env: { ...process.env, NODE_OPTIONS: "" }, maxBuffer: 16 << 20 });
    probe = JSON.parse(stdout) as Probe;
  });
  after(() => {
    if (project) rmSync(project, { recursive: true, force: true });
    if (project) rmSync(`${project}-moved`, { recursive: true, force: true });
  });

  it("is novacron-<version>.tgz holding compiled JavaScript and declarations, no TypeScript source", () => {
    const version = (require(path.join(REPO, "package.json")) as { version: string }).version;
    assert.equal(path.basename(packed.tgz), `novacron-${version}.tgz`);
    const source = packed.files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
    assert.deepEqual(source, [], "TypeScript source in the tarball");
    const outsideDist = packed.files.filter((f) => !f.startsWith("dist/"));
    assert.deepEqual(outsideDist.sort(), ["README.md", "package.json", "schema.json"]);
    for (const f of ["dist/sdk/index.js", "dist/sdk/index.d.ts", "dist/sdk/policy.js", "dist/sdk/policy.d.ts", "dist/provider/dynamic/runtime.js"]) {
      assert.ok(packed.files.includes(f), `${f} is missing from the tarball`);
    }
  });

  it("installs with no TypeScript tooling; `novacron` and `novacron/policy` load as compiled JavaScript", () => {
    assert.ok(!project.startsWith(REPO), `${project} is inside the repository`);
    assert.deepEqual(probe.typescriptInstalled, { "ts-node": false, typescript: false });
    assert.equal(probe.stripTypes, false, "Node's type stripping was on");
    const installed = path.join(project, "node_modules/novacron/dist");
    assert.equal(probe.main, path.join(installed, "sdk/index.js"));
    assert.equal(probe.policyEntry, path.join(installed, "sdk/policy.js"));
    assert.equal(probe.runtimeEntry, path.join(installed, "provider/dynamic/runtime.js"));
    for (const name of ["VirtualMachine", "StoragePool", "Volume", "Network", "PassthroughDevice", "Snapshot", "getDriverCapabilities", "getHostCapabilities", "getVmMetrics"]) {
      assert.ok(probe.exports.includes(name), `novacron exports no ${name}`);
    }
    for (const name of ["vmSizeCeiling", "passthroughNeedsNumaPinning", "requiredLabels"]) {
      assert.ok(probe.policyExports.includes(name), `novacron/policy exports no ${name}`);
    }
  });

  it("importing the sdk loads only the resource declarations: no zod, no driver, no policy helpers", () => {
    assert.deepEqual(probe.afterImport.files.sort(), [
      "dist/provider/core/model/computed.js",
      "dist/provider/dynamic/providers.js",
      "dist/sdk/functions.js",
      "dist/sdk/index.js",
      "dist/sdk/resources.js",
    ]);
    assert.equal(probe.afterImport.zodLoaded, false, "zod loaded by a plain import");
  });

  it("asking libvirt's capabilities loads libvirt's code and none of vSphere's", () => {
    assert.equal(probe.afterLibvirtCapabilities.product, "KVM/QEMU (libvirt)");
    assert.ok(probe.afterLibvirtCapabilities.files.includes("dist/provider/drivers/libvirt/capabilities.js"));
    assert.deepEqual(probe.afterLibvirtCapabilities.vsphereOrUndici, []);
  });

  it("the declarations type-check a user's program as Pulumi's template does, load no zod, and reject wrong input", async () => {
    writeFileSync(
      path.join(project, "index.ts"),
      [
        'import * as pulumi from "@pulumi/pulumi";',
        'import * as nc from "novacron";',
        'const net = new nc.Network("lab", { host: "kvm1", mode: "isolated", cidr: "10.77.0.0/24" });',
        'export const vm = new nc.VirtualMachine("web", { host: "kvm1", cpu: { cores: 2 }, memory: { sizeMiB: 1024 }, nics: { net0: { network: net.name } } });',
        "export const ip: pulumi.Output<string | null> = vm.ipAddress;",
        'export const caps: nc.HypervisorCapabilities = nc.getDriverCapabilities("libvirt");',
        'export const wrongSize = new nc.VirtualMachine("bad", { host: "kvm1", cpu: { cores: 2 }, memory: { sizeMiB: "lots" } });',
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(project, "policy.ts"),
      [
        'import { vmSizeCeiling } from "novacron/policy";',
        "export const policy = vmSizeCeiling({ maxMemoryMiB: 4096, maxVcpus: 8 });",
        "export const wrong = vmSizeCeiling({ maxMemoryMiB: 4096 });",
        "",
      ].join("\n"),
    );
    // Pulumi's TypeScript template: classic resolution (so `novacron/policy` needs the package's
    // typesVersions), no esModuleInterop. skipLibCheck only because @pulumi/policy's own
    // declarations fail without it; zod's would too, were they in the program (listed below).
    const tsc = path.join(REPO, "node_modules/typescript/bin/tsc");
    const template = [
      "--noEmit",
      "--strict",
      "--skipLibCheck",
      "--module",
      "commonjs",
      "--moduleResolution",
      "node",
      "--target",
      "es2020",
      "--typeRoots",
      path.join(REPO, "node_modules/@types"),
      "--types",
      "node",
    ];
    const output = await run(NODE, [tsc, ...template, "--listFiles", "index.ts", "policy.ts"], { cwd: project, maxBuffer: 16 << 20 }).then(
      (ok) => ok.stdout,
      (error: { stdout: string }) => error.stdout,
    );
    const errors = output.split("\n").filter((line) => / error TS/.test(line));
    assert.equal(errors.length, 2, output);
    assert.match(errors[0], /^index\.ts\(7,\d+\): error TS2322: Type 'string' is not assignable to type 'Input<number>'/);
    assert.match(errors[1], /^policy\.ts\(3,\d+\): error TS2345: .*maxVcpus/);
    assert.ok(output.includes(path.join(project, "node_modules/novacron/dist/sdk/model-types.d.ts")), "the sdk's declarations were not used");
    assert.doesNotMatch(output, /node_modules\/zod\//, "the sdk's declarations pull in zod's");
  });

  it("Pulumi's provider host runs the installed runtime, found by package name after the project moved", async () => {
    const text = probe.providers.VirtualMachine;
    assert.ok(text.includes(path.join(project, "node_modules/novacron/dist/provider/dynamic/runtime")), "the installed runtime's path is recorded");
    assert.match(text, /"fromSource":false/);
    assert.doesNotMatch(text, /"tsconfig":"\//, "a compiled provider names no tsconfig");
    // State written here is later used from another checkout or machine: the recorded path is gone.
    const moved = `${project}-moved`;
    renameSync(project, moved);
    assert.ok(!existsSync(path.join(project, "node_modules")));
    const host = await ProviderHost.start(
      { NODE_OPTIONS: NO_TS, NOVACRON_HOSTS: "" },
      {},
      {
        cwd: moved,
        entry: path.join(moved, "node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js"),
        serialized: async (kind: ResourceKind) => probe.providers[kind],
      },
    );
    try {
      await host.configure({ "novacron:hosts": JSON.stringify({ kvm1: { driver: "libvirt", uri: "test:///default" } }) });
      const vm = { host: "kvm1", name: "nc-package-vm", cpu: { cores: 1 }, memory: { sizeMiB: 256 }, powerState: "running" };
      const ok = await host.check("VirtualMachine", {}, vm);
      assert.deepEqual(ok.failures, []);
      assert.equal((ok.inputs.memory as { sizeMiB: number }).sizeMiB, 256);
      const bad = await host.check("VirtualMachine", {}, { ...vm, host: "nowhere" });
      assert.equal(bad.failures[0]?.property, "host");
      const diff = await host.diff("VirtualMachine", "id", ok.inputs, { ...ok.inputs, memory: { ...(ok.inputs.memory as object), sizeMiB: 512 } });
      assert.equal(diff.changes, true);
      const net = await host.check("Network", {}, { host: "kvm1", name: "nc-package-net", mode: "isolated", cidr: "10.79.0.0/24" });
      assert.deepEqual(net.failures, []);
      assert.doesNotMatch(host.stderr.join(""), /ts-node|Cannot find module/);
    } finally {
      await host.stop();
      renameSync(moved, project);
    }
  });
});
