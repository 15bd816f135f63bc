import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { OperationContext } from "../../provider/core/driver";
import { VirtualMachineInputs } from "../../provider/core/model";
import { PveClient } from "../../provider/drivers/proxmox/api/client";
import { ProxmoxVmResource } from "../../provider/drivers/proxmox/resources/vm";
import { fakepve, type FakePve } from "../integration/proxmox/testbed";
import type { BenchResult } from "./types";

const CYCLES = 20;
const ROUNDS = 5;

interface Totals {
  ms: number;
  requests: number;
}

const ctx = (): OperationContext => ({ progress: () => undefined, deadline: Date.now() + 60_000, connect: () => Promise.reject(new Error("none")) });

/** create (running) → stop → delete through the driver, as `pulumi up` / `destroy` drive it. */
async function ours(pve: FakePve, client: PveClient, round: number): Promise<Totals> {
  const vms = new ProxmoxVmResource(client, pve.node);
  const before = client.roundTrips;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CYCLES; i++) {
    const spec = VirtualMachineInputs.parse({
      host: "pve",
      name: `bench-ts-${process.pid}-${round}-${i}`,
      cpu: { cores: 2 },
      memory: { sizeMiB: 1024 },
      disks: { scsi0: { pool: "local-lvm", sizeGiB: 1 } },
      nics: { net0: { bridge: "vmbr0" } },
      updatePolicy: { shutdownTimeoutSeconds: 10 },
    });
    const made = await vms.create(spec, ctx());
    const stopped = { ...spec, powerState: "stopped" as const };
    await vms.update(made.id, made.spec, stopped, { changes: [], worst: "live", replaces: [] }, ctx());
    await vms.delete(made.id, stopped, ctx());
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, requests: client.roundTrips - before };
}

/**
 * The same VM lifecycle as bare HTTP calls: what a hand-written script against the API does
 * (nextid, create, start, shutdown, destroy, each task polled to its end), on one keep-alive pool
 * with the same TLS trust and ticket.
 */
async function baseline(pve: FakePve, round: number): Promise<Totals> {
  const pool = new Pool(pve.url, { connect: { ca: readFileSync(pve.caFile, "utf8") }, connections: 8 });
  let requests = 0;
  const call = async (method: string, path: string, form?: Record<string, string>, cookie?: string, csrf?: string): Promise<unknown> => {
    requests++;
    const headers: Record<string, string> = {};
    if (cookie) headers.cookie = cookie;
    if (csrf && method !== "GET") headers.csrfpreventiontoken = csrf;
    let body: string | undefined;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const res = await pool.request({ path: `/api2/json${path}`, method: method as "GET", headers, body });
    const json = (await res.body.json()) as { data: unknown };
    if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode}`);
    return json.data;
  };
  try {
    const login = (await call("POST", "/access/ticket", { username: pve.username, password: pve.password })) as { ticket: string; CSRFPreventionToken: string };
    const auth = [`PVEAuthCookie=${login.ticket}`, login.CSRFPreventionToken] as const;
    requests = 0;
    const wait = async (upid: unknown) => {
      for (;;) {
        const s = (await call("GET", `/nodes/${pve.node}/tasks/${String(upid)}/status`, undefined, ...auth)) as { status: string; exitstatus?: string };
        if (s.status === "stopped") {
          if (s.exitstatus !== "OK") throw new Error(String(s.exitstatus));
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CYCLES; i++) {
      const vmid = String(await call("GET", "/cluster/nextid", undefined, ...auth));
      const qemu = `/nodes/${pve.node}/qemu`;
      await wait(
        await call(
          "POST",
          qemu,
          {
            vmid,
            name: `bench-http-${process.pid}-${round}-${i}`,
            cores: "2",
            memory: "1024",
            scsi0: "local-lvm:1",
            scsihw: "virtio-scsi-single",
            net0: "model=virtio,bridge=vmbr0",
            tags: "novacron",
          },
          ...auth,
        ),
      );
      await wait(await call("POST", `${qemu}/${vmid}/status/start`, {}, ...auth));
      await wait(await call("POST", `${qemu}/${vmid}/status/shutdown`, { timeout: "10" }, ...auth));
      await wait(await call("DELETE", `${qemu}/${vmid}?purge=1&destroy-unreferenced-disks=1`, undefined, ...auth));
    }
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, requests };
  } finally {
    await pool.close();
  }
}

/**
 * create+start, stop and delete of one VM, N times, through the driver and through bare HTTP
 * calls against the same fakepve (time scale 0: tasks end at once, so this is pure client
 * overhead), interleaved in rounds, best round each. Target: ours within 1.1× the bare calls.
 */
export async function run(): Promise<BenchResult[]> {
  const pve = fakepve();
  const client = new PveClient({ url: pve.url, auth: { kind: "password", username: pve.username, password: pve.password }, caFile: pve.caFile });
  try {
    await ours(pve, client, -1); // warm-up: module loading, JIT, TLS, login
    await baseline(pve, -1);
    const mine: Totals[] = [];
    const theirs: Totals[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      mine.push(await ours(pve, client, r));
      theirs.push(await baseline(pve, r));
    }
    const best = (runs: Totals[]) => runs.reduce((x, y) => (y.ms < x.ms ? y : x));
    const a = best(mine);
    const b = best(theirs);
    const ratio = a.ms / b.ms;
    return [
      { name: "create+start+stop+delete: wall time per VM, driver", value: a.ms / CYCLES, unit: "ms" },
      { name: "create+start+stop+delete: wall time per VM, bare HTTP", value: b.ms / CYCLES, unit: "ms" },
      { name: "create+start+stop+delete: requests per VM, driver", value: a.requests / CYCLES, unit: "requests" },
      { name: "create+start+stop+delete: requests per VM, bare HTTP", value: b.requests / CYCLES, unit: "requests" },
      { name: "create+start+stop+delete: time ratio driver/bare HTTP", value: ratio, unit: "x", target: "<= 1.1", pass: ratio <= 1.1 },
    ];
  } finally {
    await client.close();
  }
}
