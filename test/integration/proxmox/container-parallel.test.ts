import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { ContainerInputs } from "../../../provider/core/model";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProxmoxContainerResource } from "../../../provider/drivers/proxmox/resources/container";
import { assertRecordable } from "./declared-outputs";
import { ensureTemplate } from "./templates";
import { clientFor, fakepve, uniqueName } from "./testbed";

const PARALLEL = 25;

/**
 * Containers share the VMs' id space: /cluster/nextid proposes the same free id to every caller
 * at once, and only the create call decides. Parallel creates on one node must all succeed with
 * distinct ids, each id holding the container that asked for it.
 */
describe("Proxmox VE containers: parallel creates on one node (fakepve)", function () {
  this.timeout(180_000);
  const pve = fakepve();
  let api: PveClient;
  const made: string[] = [];
  const ctx = (): OperationContext => ({ progress: () => undefined, deadline: Date.now() + 120_000, connect: () => Promise.reject(new Error("none")) });

  before(async () => {
    api = clientFor(pve, { connections: 16 });
  });

  after(async () => {
    const cts = new ProxmoxContainerResource(api, pve.node);
    const spec = ContainerInputs.parse({ host: "pve", name: "cleanup", template: "local:vztmpl/x.tar.zst", rootfs: { pool: "local-lvm", sizeGiB: 1 } });
    for (const id of made) await cts.delete(id, spec, ctx()).catch((e) => console.error(`cleanup ${id}: ${e}`));
    await api?.close();
  });

  it(`${PARALLEL} parallel creates: zero failures, zero duplicate ids, each id holds its own container`, async () => {
    const template = await ensureTemplate(api, pve.node);
    const cts = new ProxmoxContainerResource(api, pve.node);
    const base = uniqueName("par");
    const specs = Array.from({ length: PARALLEL }, (_, i) =>
      ContainerInputs.parse({ host: "pve", name: `${base}-${i}`, template, rootfs: { pool: "local-lvm", sizeGiB: 1 }, powerState: "stopped" }),
    );
    const results = await Promise.allSettled(specs.map((s) => cts.create(s, ctx())));
    for (const r of results) if (r.status === "fulfilled") made.push(r.value.id);
    const failed = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    assert.deepEqual(failed, []);
    assert.equal(new Set(made).size, PARALLEL, `duplicate ids: ${made.join(",")}`);
    for (const [i, r] of results.entries()) {
      if (r.status !== "fulfilled") continue;
      assertRecordable("Container", r.value);
      const cfg = await api.get<{ hostname: string }>(`/nodes/${pve.node}/lxc/${r.value.id}/config`);
      assert.equal(cfg.hostname, specs[i].name, `container ${r.value.id}`);
    }
  });
});
