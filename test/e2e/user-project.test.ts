import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { useRealEngine } from "../support/engine";
import { installNovacron, npmEnv, packNovacron } from "../support/pack";
import { REPO, testbed, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";

const run = promisify(execFile);
const URI = "qemu:///system";

/**
 * A user's own project outside this repository: `npm install novacron-<v>.tgz`, a plain
 * `require("novacron")` program, and `up` / `destroy` through the real engine. Without a
 * nodejs language host here, the project drives its own program through the Automation API of
 * its own @pulumi/pulumi (the program and the runtime must share one SDK), in its own directory.
 */
describe("e2e: a user's project with the packed package, through the real engine", function () {
  this.timeout(900_000);
  const prefix = uniquePrefix("up");
  let project: string;

  before(async () => {
    testbed("libvirt.sh");
    useRealEngine();
    project = await installNovacron((await packNovacron()).tgz);
    writeFileSync(
      path.join(project, "Pulumi.yaml"),
      [
        "name: nc-user-project",
        "main: index.js",
        "runtime: nodejs",
        "config:",
        "  novacron:hosts:",
        `    value: '${JSON.stringify({ kvm: { driver: "libvirt", uri: URI } })}'`,
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(project, "index.js"),
      `const nc = require("novacron");
const net = new nc.Network("lab", { host: "kvm", name: "${prefix}", mode: "isolated", cidr: "10.234.${20 + (process.pid % 200)}.0/24", dhcp: {} });
const vm = new nc.VirtualMachine("app", {
  host: "kvm", name: "${prefix}-app", machine: "pc", cpu: { cores: 1 }, memory: { sizeMiB: 128 },
  nics: { net0: { network: net.name } }, powerState: "stopped",
});
exports.vmId = vm.id;
`,
    );
    // The project's own runner: its program inline, through its own Automation API.
    writeFileSync(
      path.join(project, "run.js"),
      `const { LocalWorkspace } = require("@pulumi/pulumi/automation");
(async () => {
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "dev", projectName: "nc-user-project", program: async () => ({ ...require("./index.js") }) },
    { workDir: __dirname },
  );
  const result = await stack[process.argv[2]]({ onOutput: (o) => process.stdout.write(o) });
  if (result.outputs) console.log("OUTPUTS " + JSON.stringify(result.outputs));
})().catch((e) => { console.error(String(e)); process.exit(1); });
`,
    );
  });

  after(async () => {
    if (!project) return;
    await run("node", ["run.js", "destroy"], { cwd: project, env: npmEnv() }).catch(() => undefined);
    rmSync(project, { recursive: true, force: true });
  });

  it("up creates the network and the VM from compiled JavaScript; destroy removes both", async () => {
    assert.ok(!project.startsWith(REPO));
    const up = await run("node", ["--no-experimental-strip-types", "run.js", "up"], { cwd: project, env: npmEnv(), maxBuffer: 64 << 20 });
    const outputs = JSON.parse(/^OUTPUTS (.*)$/m.exec(up.stdout)?.[1] ?? "{}") as { vmId?: { value: string } };
    assert.equal(outputs.vmId?.value, virsh(URI, "domuuid", `${prefix}-app`).trim());
    assert.match(virsh(URI, "net-info", prefix), /Active:\s+yes/);
    // The provider host ran the installed package's compiled runtime, not this repository's.
    assert.doesNotMatch(up.stdout, /ts-node|TSError/);

    await run("node", ["run.js", "destroy"], { cwd: project, env: npmEnv(), maxBuffer: 64 << 20 });
    assert.equal(virshMaybe(URI, "dominfo", `${prefix}-app`), undefined);
    assert.equal(virshMaybe(URI, "net-info", prefix), undefined);
  });
});
