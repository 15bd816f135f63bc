import type { PveClient } from "../../../provider/drivers/proxmox/api/client";
import { waitForTask } from "../../../provider/drivers/proxmox/api/tasks";

export const TEMPLATE_FILE = "debian-12-standard_12.7-1_amd64.tar.zst";

/**
 * An OS template on fakepve's `local` storage, fetched through PVE's download-url (fakepve records
 * the file without fetching anything). Once a storage lists templates, a container create whose
 * template is missing fails as on PVE, so the tests put theirs there first.
 */
export async function ensureTemplate(api: PveClient, node: string): Promise<string> {
  const volid = `local:vztmpl/${TEMPLATE_FILE}`;
  const listed = await api.get<{ volid: string }[]>(`/nodes/${node}/storage/local/content`, { content: "vztmpl" });
  if (listed.some((v) => v.volid === volid)) return volid;
  const upid = await api.post<string>(`/nodes/${node}/storage/local/download-url`, {
    content: "vztmpl",
    filename: TEMPLATE_FILE,
    url: `https://images.example/${TEMPLATE_FILE}`,
  });
  await waitForTask(api, upid, { progress: () => undefined, deadline: Date.now() + 60_000 });
  return volid;
}
