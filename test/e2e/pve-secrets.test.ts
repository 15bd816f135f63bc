import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import type { PveClient } from "../../provider/drivers/proxmox/api/client";
import { clientFor, fakepve } from "../integration/proxmox/testbed";
import { EngineLog, exampleStack, stateDir, useRealEngine } from "../support/engine";
import { REPO, uniquePrefix } from "../support/testbeds";

type Json = Record<string, unknown>;
/** How the engine marks an encrypted value in a checkpoint. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/**
 * A cloud-init password through the real engine, written in the program for one VM declared
 * with the sdk and one declared around it (a bare dynamic resource): after up and after refresh,
 * the state file holds it only encrypted (cloudInit in both inputs and outputs of both VMs is a
 * secret with ciphertext), and no engine output line shows it.
 */
describe("e2e: a Proxmox VM's cloud-init password never reaches the state file or the log in clear", function () {
  this.timeout(600_000);
  const pve = fakepve();
  const prefix = uniquePrefix("ps");
  /** As the program makes it from the prefix. */
  const password = `Pw-${prefix}-s3cr3t!`;
  let stack: Stack;
  let api: PveClient;
  const log = new EngineLog();

  const checkpoint = (): string => readFileSync(path.join(stateDir(), ".pulumi/stacks/novacron-e2e-pve-secrets", `${stack.name}.json`), "utf8");
  const vms = (): Json[] =>
    ((JSON.parse(checkpoint()) as { checkpoint: { latest: { resources?: Json[] } } }).checkpoint.latest.resources ?? []).filter((r) => String(r.type).endsWith(":VirtualMachine"));
  const assertEncrypted = (when: string) => {
    const text = checkpoint();
    const at = text.indexOf(password);
    assert.equal(at, -1, `${when}: the password is in the state file in clear: …${text.slice(Math.max(0, at - 500), at + 40)}`);
    const found = vms();
    assert.equal(found.length, 2, `${when}: both VMs in state`);
    for (const vm of found) {
      for (const side of ["inputs", "outputs"] as const) {
        const ci = (vm[side] as Json).cloudInit as Json | undefined;
        assert.ok(
          ci && ci[SECRET_SIG] !== undefined && typeof ci.ciphertext === "string",
          `${when}: ${String(vm.urn)} ${side}.cloudInit is not an encrypted secret: ${JSON.stringify(ci)}`,
        );
      }
    }
  };

  before(async () => {
    useRealEngine();
    api = clientFor(pve);
    stack = await exampleStack(path.join(REPO, "test/e2e/programs/pve-secrets"), prefix, {
      "e2e:prefix": prefix,
      "novacron:hosts": {
        value: JSON.stringify({ pve: { driver: "proxmox", url: pve.url, node: pve.node, username: pve.username, password: pve.password, fingerprint: pve.fingerprint } }),
        secret: true,
      },
    });
  });

  after(async () => {
    await stack?.destroy().catch((e: unknown) => console.error(`cleanup: ${String(e).slice(0, 400)}`));
    await stack?.workspace.removeStack(stack.name).catch(() => undefined);
    await api?.close();
  });

  it("up: both VMs get the password (PVE's cipassword is set), and the state holds cloudInit only encrypted", async () => {
    const result = await stack.up({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.equal(result.summary.result, "succeeded");
    for (const id of [result.outputs.sdkId.value, result.outputs.bareId.value]) {
      const cfg = await api.get<Record<string, string>>(`/nodes/${pve.node}/qemu/${String(id)}/config`);
      assert.equal(cfg.ciuser, "ops");
      assert.ok(cfg.cipassword !== undefined, `VM ${String(id)} has a cloud-init password`);
    }
    assertEncrypted("after up");
  });

  it("refresh reads both back and still records the password only encrypted", async () => {
    const result = await stack.refresh({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.equal(result.summary.result, "succeeded");
    assertEncrypted("after refresh");
  });

  it("a preview after that plans nothing: secrets in state do not read as changes", async () => {
    const preview = await stack.preview({ onEvent: log.onEvent, onOutput: log.onOutput });
    assert.deepEqual(preview.changeSummary, { same: 3 }, log.all().slice(-3000));
  });

  it("no output line or engine event carried the password, except Pulumi's own debug trace of the program that wrote it in plain code", () => {
    assert.ok(log.all().length > 0);
    assert.equal(log.all().indexOf(password), -1, "the command's output shows the password");
    // The Node SDK traces each RegisterResource answer at debug level inside the program's own
    // process, secrets included in their wire form (the engine hands a program its own secrets):
    // Pulumi's trace, shown only with --debug, of a value the program itself holds.
    const leaking = log.events.filter((e) => JSON.stringify(e).includes(password));
    for (const e of leaking) {
      assert.equal(e.diagnosticEvent?.severity, "debug", `a non-debug event holds the password: ${JSON.stringify(e).slice(0, 400)}`);
      assert.match(e.diagnosticEvent?.message ?? "", /^RegisterResource RPC finished: resource:(bare|via-sdk)\[/);
    }
  });
});
