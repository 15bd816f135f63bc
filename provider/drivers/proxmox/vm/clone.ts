// Clones from a template: find the template, copy it (linked or full, to a storage), one clone
// of a template at a time per node and storage, so parallel `up`s queue here instead of failing
// on the template's lock ("VM is locked (clone)").
import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import type { PveClient } from "../api/client";
import { PveApiError } from "../api/errors";
import { waitForTask } from "../api/tasks";
import { type Claimed, claimVmId } from "./claim-id";

type CloneFrom = NonNullable<VirtualMachineSpec["cloneFrom"]>;

export interface Template {
  vmid: number;
  node: string;
  name: string;
}

interface ResourceRow {
  vmid: number;
  name?: string;
  node: string;
  type: string;
  template?: number;
}

/** The template `ref` names (a VM id or a name); refuses a VM that is not a template. */
export async function findTemplate(client: PveClient, ref: string): Promise<Template> {
  const rows = await client.get<ResourceRow[]>("/cluster/resources", { type: "vm" });
  const qemu = rows.filter((r) => r.type === "qemu");
  const hit = /^\d+$/.test(ref) ? qemu.find((r) => Number(r.vmid) === Number(ref)) : qemu.find((r) => r.name === ref && Number(r.template) === 1);
  if (!hit) {
    const templates = qemu.filter((r) => Number(r.template) === 1).map((r) => `${r.name ?? "?"} (${r.vmid})`);
    throw new Error(`cloneFrom.template: Proxmox VE has no template "${ref}"; its templates are ${templates.join(", ") || "none"}`);
  }
  if (Number(hit.template) !== 1) {
    throw new Error(`cloneFrom.template: VM ${hit.vmid} (${hit.name ?? ""}) is not a template; convert it with \`qm template ${hit.vmid}\` or name a template`);
  }
  return { vmid: Number(hit.vmid), node: hit.node, name: hit.name ?? String(hit.vmid) };
}

/** Per template, target storage and node: the clone in flight that the next one waits for. */
const queues = new Map<string, Promise<unknown>>();

async function serialised<T>(key: string, run: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(run);
  const tail = mine.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await mine;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

/**
 * Clones `template` as a new VM named `name` on `node`: the clone call arbitrates the VM id as a
 * create does, and the task is waited for inside the queue (the template stays locked until it
 * ends). Answers the id as soon as it is taken through `claimed`, so a failure after that point
 * still hands the VM back for the state.
 */
export async function cloneTemplate(client: PveClient, node: string, name: string, from: CloneFrom, ctx: OperationContext, claimed: (vmid: number) => void): Promise<number> {
  const template = await findTemplate(client, from.template);
  const key = `${client.options.url}|${template.vmid}|${from.storage ?? ""}|${node}`;
  return serialised(key, async () => {
    ctx.progress(`cloning template ${template.name} (${template.vmid}) as ${from.linked ? "a linked" : "a full"} clone${from.storage ? ` on ${from.storage}` : ""}`);
    const params = {
      name,
      full: from.linked ? 0 : 1,
      ...(from.storage ? { storage: from.storage } : {}),
      ...(template.node !== node ? { target: node } : {}),
    };
    const got: Claimed = await claimVmId(
      client,
      node,
      name,
      (newid) => client.post<string>(`/nodes/${template.node}/qemu/${template.vmid}/clone`, { newid, ...params }),
      ctx,
      (error) =>
        error instanceof PveApiError && Object.keys(error.fieldErrors).length === 0
          ? new Error(`cloning template ${template.name} (${template.vmid}) failed: ${error.reason}`, { cause: error })
          : error,
    );
    claimed(got.vmid);
    if (got.upid) await waitForTask(client, got.upid, ctx);
    return got.vmid;
  });
}
