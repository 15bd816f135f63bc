import { readFileSync } from "node:fs";
import { Pool } from "undici";
import { clientFor, fakepve } from "./test/integration/proxmox/testbed";
import type { Method } from "./provider/drivers/proxmox/api/client";
(async () => {
  const pve = fakepve();
  const client = clientFor(pve);
  await client.get("/version");
  const pool = new Pool(pve.url, { connect: { ca: readFileSync(pve.caFile, "utf8") }, connections: 8 });
  const login = (await (await pool.request({ path: "/api2/json/access/ticket", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ username: pve.username, password: pve.password }).toString() })).body.json()) as { data: { ticket: string; CSRFPreventionToken: string } };
  const bare = async (method: string, path: string, form?: Record<string, string>) => {
    const headers: Record<string, string> = { cookie: `PVEAuthCookie=${login.data.ticket}` };
    if (method !== "GET") headers.csrfpreventiontoken = login.data.CSRFPreventionToken;
    let body: string | undefined;
    let p = path;
    if (form && (method === "POST" || method === "PUT")) { headers["content-type"] = "application/x-www-form-urlencoded"; body = new URLSearchParams(form).toString(); }
    else if (form) p += `?${new URLSearchParams(form)}`;
    return ((await (await pool.request({ path: `/api2/json${p}`, method: method as "GET", headers, body })).body.json()) as { data: unknown }).data;
  };
  const mine = (method: string, path: string, form?: Record<string, string>) => client.request(method as Method, path, form);
  const cycle = async (call: typeof bare, tag: string, i: number, steps: Record<string, number>) => {
    let t = performance.now();
    const lap = (k: string) => { const n = performance.now(); steps[k] = (steps[k] ?? 0) + n - t; t = n; };
    const vmid = String(await call("GET", "/cluster/nextid")); lap("nextid");
    const q = `/nodes/pve1/qemu`;
    const upid = await call("POST", q, { vmid, name: `probe-${tag}-${i}`, machine: "q35", sockets: "1", cores: "2", memory: "1024", bios: "seabios", tags: "novacron", scsihw: "virtio-scsi-single", scsi0: "local-lvm:1", net0: "model=virtio,bridge=vmbr0", start: "1" }); lap("create");
    await call("GET", `/nodes/pve1/tasks/${upid}/status`); lap("task1");
    await call("GET", `${q}/${vmid}/config`); lap("config");
    await call("GET", `${q}/${vmid}/status/current`); lap("status");
    const u2 = await call("POST", `${q}/${vmid}/status/shutdown`, { timeout: "10" }); lap("shutdown");
    await call("GET", `/nodes/pve1/tasks/${u2}/status`); lap("task2");
    const u3 = await call("DELETE", `${q}/${vmid}`, { purge: "1", "destroy-unreferenced-disks": "1" }); lap("delete");
    await call("GET", `/nodes/pve1/tasks/${u3}/status`); lap("task3");
  };
  for (let r = 0; r < 3; r++) {
    const a: Record<string, number> = {}; const b: Record<string, number> = {};
    for (let i = 0; i < 30; i++) { await cycle(mine, `m${r}`, i, a); await cycle(bare, `b${r}`, i, b); }
    console.log(Object.keys(a).map((k) => `${k} ${(a[k] / 30).toFixed(2)}/${(b[k] / 30).toFixed(2)}`).join("  "));
  }
  await client.close(); await pool.close();
})();
