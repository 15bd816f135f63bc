import assert from "node:assert/strict";
import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { ProviderHost } from "../../support/provider-host";
import { specOf } from "../../support/testbeds";
import { clientFor, fakepve, hostEntry } from "./testbed";

type Props = Record<string, unknown>;

/** Disk images on a storage through the provider host; fakepve allocates them and lists them in the storage's content. */
describe("Proxmox VE volumes through the provider host (fakepve)", function () {
  this.timeout(60_000);
  const pve = fakepve();
  let host: ProviderHost;
  let api: PveClient;
  let vol: { id: string; outs: Props } | undefined;
  // An owner id no test guest takes (PVE names images after their guest).
  const owner = 900000 + (process.pid % 90000);
  const listed = async () => api.get<{ volid: string; size: number }[]>(`/nodes/${pve.node}/storage/local-lvm/content`, { content: "images" });

  before(async () => {
    host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify({ pve: hostEntry(pve) }) });
    api = clientFor(pve);
  });

  after(async () => {
    if (vol) await host.delete("Volume", vol.id, vol.outs).catch((e) => console.error(`cleanup: ${e}`));
    await host?.stop();
    await api?.close();
  });

  it("check refuses a name without its owner and the sources PVE has no storage call for", async () => {
    const { failures } = await host.check("Volume", {}, { host: "pve", pool: "local-lvm", name: "data", sizeGiB: 1 });
    assert.match(failures.find((f) => f.property === "name")!.reason, /vm-<id>-<name>/);
    const up = await host.check("Volume", {}, { host: "pve", pool: "local-lvm", name: `vm-${owner}-x`, uploadFrom: "/srv/x.qcow2" });
    assert.match(up.failures.find((f) => f.property === "uploadFrom")!.reason, /upload takes ISO images and container templates only/);
  });

  it("allocates a raw image on local-lvm, reads it back without a diff, and removes it", async () => {
    const name = `vm-${owner}-disk-7`;
    vol = await host.checkAndCreate("Volume", { host: "pve", pool: "local-lvm", name, sizeGiB: 2, format: "raw" });
    assert.equal(vol.id, `local-lvm:${name}`);
    const entry = (await listed()).find((e) => e.volid === vol!.id);
    assert.equal(entry?.size, 2 * 1024 ** 3);
    assert.equal(vol.outs.capacityBytes, 2 * 1024 ** 3);
    const read = await host.read("Volume", vol.id, vol.outs);
    assert.equal((await host.diff("Volume", vol.id, read.props, specOf(vol.outs, "Volume"))).changes, false);
    await host.delete("Volume", vol.id, vol.outs);
    assert.equal(
      (await listed()).some((e) => e.volid === vol!.id),
      false,
    );
    await host.delete("Volume", vol.id, vol.outs);
    vol = undefined;
  });
});
