import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import type { PveClient } from "../../provider/drivers/proxmox/api/client";
import { PveApiError } from "../../provider/drivers/proxmox/api/errors";
import { clientFor, fakepve } from "../integration/proxmox/testbed";
import { EngineLog, exampleStack, stateDir, useRealEngine } from "../support/engine";
import { REPO, testbed, uniquePrefix, virsh, virshMaybe } from "../support/testbeds";

const URI = "qemu:///system";

/**
 * One program, one KVM host and one Proxmox VE host (fakepve), through the real Pulumi engine:
 * up, a no-change preview, a Proxmox change PVE applies only with a restart, destroy.
 */
describe("e2e: a KVM VM and a Proxmox VM in one program through the real engine", function () {
  this.timeout(600_000);
  const pve = fakepve();
  const prefix = uniquePrefix("kp");
  let stack: Stack;
  let api: PveClient;

  before(async () => {
    testbed("libvirt.sh");
    useRealEngine();
    api = clientFor(pve);
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/kvm-and-proxmox"), prefix, {
      "e2e:prefix": prefix,
      "novacron:hosts": {
        value: JSON.stringify({
          kvm: { driver: "libvirt", uri: URI },
          pve: { driver: "proxmox", url: pve.url, node: pve.node, username: pve.username, password: pve.password, fingerprint: pve.fingerprint },
        }),
        secret: true,
      },
    });
  });

  after(async () => {
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
    await api?.close();
  });

  const pveConfig = async (): Promise<Record<string, string | number>> => api.get(`/nodes/${pve.node}/qemu/${String((await stack.outputs()).pveId.value)}/config`);

  it("up makes both VMs: a defined, stopped KVM domain and a running Proxmox VM", async () => {
    const result = await stack.up();
    assert.equal(result.summary.result, "succeeded");
    assert.match(virsh(URI, "domstate", `${prefix}-kvm`), /shut off/);
    assert.equal(result.outputs.kvmState.value, "stopped");
    assert.equal(result.outputs.pveState.value, "running");
    const cfg = await pveConfig();
    assert.equal(cfg.name, `${prefix}-pve`);
    assert.match(String(cfg.scsi0), /^local-lvm:vm-\d+-disk-0,size=2G$/);
  });

  it("a second preview changes nothing on either host", async () => {
    const log = new EngineLog();
    const preview = await stack.preview({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.deepEqual(preview.changeSummary, { same: 3 }, log.all());
  });

  it("more cores on the running Proxmox VM need a restart: refused at preview, applied with consent", async () => {
    await stack.setConfig("e2e:pveCores", { value: "2" });
    const refused = new EngineLog();
    await assert.rejects(stack.preview({ onOutput: refused.onOutput }));
    assert.match(
      refused.all(),
      /cpu\.cores.* has a problem: this change needs the running VM to restart \(reboot: 2 vCPUs exceed the running maximum of 1; raise cpu\.maxVcpus ahead of time to hot-add\)/,
    );
    await stack.setConfig("e2e:allowReboot", { value: "true" });
    const up = await stack.up();
    assert.equal(up.outputs.pveLastChangeClass.value, "reboot");
    assert.equal(Number((await pveConfig()).cores), 2);
  });

  it("the checkpoint does not hold the Proxmox password (it lives only in the secret stack config)", () => {
    const checkpoint = readFileSync(path.join(stateDir(), ".pulumi/stacks/novacron-e2e-kvm-and-proxmox", `${stack.name}.json`), "utf8");
    assert.equal(checkpoint.indexOf(pve.password), -1, "the Proxmox password is in the state file");
  });

  it("destroy removes both", async () => {
    const id = String((await stack.outputs()).pveId.value);
    const result = await stack.destroy();
    assert.equal(result.summary.result, "succeeded");
    assert.equal(virshMaybe(URI, "dominfo", `${prefix}-kvm`), undefined);
    await assert.rejects(api.get(`/nodes/${pve.node}/qemu/${id}/config`), (e: unknown) => e instanceof PveApiError && e.isMissingGuest);
  });
});
