import assert from "node:assert/strict";
import type { OperationContext } from "../../../provider/core/driver";
import { BackupInputs, ContainerInputs, VolumeInputs, type ContainerArgs } from "../../../provider/core/model";
import { PveClient, type PveRequest } from "../../../provider/drivers/proxmox/api/client";
import { containerProblems, createParams } from "../../../provider/drivers/proxmox/container/translate";
import { ProxmoxBackupResource } from "../../../provider/drivers/proxmox/resources/backup";
import { ProxmoxContainerResource } from "../../../provider/drivers/proxmox/resources/container";
import { ProxmoxVolumeResource } from "../../../provider/drivers/proxmox/resources/volume";
import { PveSchema, SCHEMA_FILE } from "./contract";
import { assertRecordable } from "./declared-outputs";
import { ensureTemplate, TEMPLATE_FILE } from "./templates";
import { fakepve, uniqueName } from "./testbed";

const NODE = "pve1";
const TEMPLATE = `local:vztmpl/${TEMPLATE_FILE}`;
const ctx = (): OperationContext => ({ progress: () => undefined, deadline: Date.now() + 30_000, connect: () => Promise.reject(new Error("none")) });

/** Containers exercising every field the translation writes. */
const SPECS: ContainerArgs[] = [
  { host: "pve", name: "plain", template: TEMPLATE, rootfs: { pool: "local-lvm", sizeGiB: 2 } },
  {
    host: "pve",
    name: "every-field.lab.example",
    template: TEMPLATE,
    cpu: { cores: 4, limit: 1.5, units: 2048 },
    memory: { sizeMiB: 2048, swapMiB: 0 },
    rootfs: { pool: "local-lvm", sizeGiB: 8 },
    mountPoints: { mp0: { pool: "local-lvm", sizeGiB: 4, path: "/srv/data", readOnly: true, backup: true }, mp3: { volume: "local-lvm:vm-100-disk-7", path: "/srv/old" } },
    nics: {
      net0: { bridge: "vmbr0", ip: "10.0.0.5/24", gateway: "10.0.0.1", vlan: 42, mac: "bc:24:11:00:00:01", firewall: true, rateMBps: 12.5 },
      net1: { name: "lan", bridge: "vnet1", ip: "manual" },
    },
    unprivileged: false,
    features: { nesting: true, keyctl: true, fuse: true },
    sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0novacron ops@example"],
    onBoot: true,
    labels: { team: "infra" },
  },
  { host: "pve", name: "restored", restoreFrom: "local:backup/vzdump-lxc-100-2026_12_05-03_00_00.tar.zst", rootfs: { pool: "local-lvm", sizeGiB: 2 } },
];

describe("Proxmox VE contract: container and backup requests are valid per PVE's API schema", function () {
  this.timeout(60_000);
  let schema: PveSchema;

  before(function () {
    if (!PveSchema.available()) {
      console.warn(`    (skipped: the PVE API schema is not at ${SCHEMA_FILE})`);
      this.skip();
    }
    schema = PveSchema.load();
  });

  it("the checker refuses bad container and backup values (so a pass means something)", () => {
    const post = (path: string, params: Record<string, string>): PveRequest => ({ method: "POST", path, params });
    assert.match(schema.problems(post(`/nodes/${NODE}/lxc`, { vmid: "100", ostemplate: TEMPLATE, mp0: "local-lvm:1,mp=srv" })).join(), /mp: pve-lxc-mp-string/);
    assert.match(schema.problems(post(`/nodes/${NODE}/lxc`, { vmid: "100", ostemplate: TEMPLATE, net0: "name=eth0,ip=10.0.0.300/24" })).join(), /ip: pve-ipv4-config/);
    assert.match(schema.problems(post(`/nodes/${NODE}/vzdump`, { vmid: "100", "prune-backups": "keep-forever=1" })).join(), /prune-backups: not keep-last/);
    assert.match(schema.problems(post(`/nodes/${NODE}/vzdump`, { vmid: "100", compress: "xz" })).join(), /not one of 0, 1, gzip/);
  });

  it("create parameters of every translated container field are valid", () => {
    for (const args of SPECS) {
      const spec = ContainerInputs.parse(args);
      assert.deepEqual(containerProblems(spec), [], args.name);
      const params = Object.fromEntries(Object.entries(createParams(spec).params).map(([k, v]) => [k, String(v)]));
      assert.deepEqual(schema.problems({ method: "POST", path: `/nodes/${NODE}/lxc`, params: { vmid: "100", ...params } }), [], args.name);
    }
  });

  it("a container, backup and volume lifecycle against fakepve sends only valid requests, and every answer is recordable", async () => {
    const pve = fakepve();
    const sent: PveRequest[] = [];
    const client = new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile, onRequest: (r) => sent.push(r) });
    const cts = new ProxmoxContainerResource(client, pve.node);
    const backups = new ProxmoxBackupResource(client, pve.node);
    await ensureTemplate(client, pve.node);
    const spec = ContainerInputs.parse({ ...SPECS[1], name: uniqueName("ctc"), mountPoints: { mp0: { pool: "local-lvm", sizeGiB: 1, path: "/srv/data" } } });
    let id: string | undefined;
    try {
      const made = await cts.create(spec, ctx());
      id = made.id;
      assertRecordable("Container", made);
      const next = ContainerInputs.parse({
        ...spec,
        cpu: { cores: 2 },
        rootfs: { pool: "local-lvm", sizeGiB: 10 },
        mountPoints: { mp0: { pool: "local-lvm", sizeGiB: 2, path: "/srv/data", backup: true } },
        nics: { net0: { bridge: "vmbr0", ip: "dhcp" } },
        features: { nesting: true },
        updatePolicy: { allowReboot: true, shutdownTimeoutSeconds: 2 },
      });
      const plan = { changes: [], worst: "reboot" as const, replaces: [] };
      assertRecordable("Container", await cts.update(id, made.spec, next, plan, ctx()));
      assertRecordable("Container", await cts.update(id, next, { ...next, powerState: "stopped" }, plan, ctx()));
      const backup = BackupInputs.parse({
        host: "pve",
        guest: id,
        storage: "local",
        compress: "none",
        retention: { keepLast: 2, keepWeekly: 4 },
        notes: "{{guestname}}",
        protected: true,
      });
      const taken = await backups.create(backup, ctx());
      assertRecordable("Backup", taken);
      assertRecordable("Backup", (await backups.read(taken.id, backup))!);
      await backups.delete(taken.id, backup, ctx());
      await cts.delete(id, next, ctx());
      id = undefined;
      const volumes = new ProxmoxVolumeResource(client, pve.node);
      const volume = VolumeInputs.parse({ host: "pve", pool: "local-lvm", name: `vm-${900000 + (process.pid % 90000)}-contract`, sizeGiB: 1, format: "raw" });
      const allocated = await volumes.create(volume, ctx());
      assertRecordable("Volume", allocated);
      await volumes.delete(allocated.id, volume, ctx());
    } finally {
      if (id) await cts.delete(id, spec, ctx()).catch(() => undefined);
      await client.close();
    }
    const problems = sent.flatMap((r) => schema.problems(r, { token: r.path !== "/access/ticket" }));
    assert.deepEqual(problems, []);
    const endpoints = new Set(sent.map((r) => `${r.method} ${r.path.replace(/\/\d+(\/|$)/, "/{vmid}$1").replace(/UPID:[^/]+/, "{upid}")}`));
    for (const must of [
      "POST /nodes/pve1/lxc",
      "PUT /nodes/pve1/lxc/{vmid}/config",
      "PUT /nodes/pve1/lxc/{vmid}/resize",
      "GET /nodes/pve1/lxc/{vmid}/pending",
      "POST /nodes/pve1/lxc/{vmid}/status/reboot",
      "POST /nodes/pve1/lxc/{vmid}/status/shutdown",
      "DELETE /nodes/pve1/lxc/{vmid}",
      "POST /nodes/pve1/vzdump",
      "GET /nodes/pve1/storage/local/content",
      "POST /nodes/pve1/storage/local-lvm/content",
    ]) {
      assert.ok(endpoints.has(must), `the lifecycle never sent ${must}: ${[...endpoints].join(", ")}`);
    }
  });
});
