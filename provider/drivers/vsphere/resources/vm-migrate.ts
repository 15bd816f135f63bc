// A host change between two entries of one vCenter: RelocateVM_Task, which is
// vMotion when the ESXi host or pool differs and storage vMotion when the
// entries' datastores differ. Across vCenters there is no in-place move.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import { getProperties, lookup, moref, text, type MoRef, type VimClient } from "../soap";
import { sameEndpoint, type VsphereSession } from "../session";
import { relocateVm } from "../vm";
import type { VsphereVmResource } from "./vm";
import { vmRef } from "./vm";
import { taskOptions } from "./vm-power";

type Spec = VirtualMachineSpec;

export async function migrateThenUpdate(source: VsphereVmResource, id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
  const targetDriver = await ctx.connect(next.host);
  const targetOps = targetDriver.resource("VirtualMachine");
  const target = targetDriver.kind === "vsphere" && targetOps !== undefined && "session" in targetOps ? (targetOps as VsphereVmResource) : undefined;
  if (!target) throw new Error(`host: "${next.host}" is not a vSphere host; moving across hypervisor kinds replaces the VM`);
  const from = source.session.config;
  const to = target.session.config;
  if (!sameEndpoint(from.url, to.url)) {
    throw new Error(
      `host: "${old.host}" (${from.url}) and "${next.host}" (${to.url}) are different vCenters; vMotion works within one vCenter, so NovaCron does not move VMs between them. Keep the host, or replace the VM (e.g. a new name on the new host)`,
    );
  }
  // Also refused at preview (capabilities.passthroughMigration); repeated for specs that skip check().
  if (Object.keys(old.passthrough).length > 0) {
    throw new Error(
      `host: "${old.host}" → "${next.host}": VM "${next.name}" holds passthrough devices; vSphere cannot vMotion it. Remove the passthrough slots first, then move it`,
    );
  }
  const client = await source.session.client();
  const ref = vmRef(id);
  const relocation = await relocationTarget(client, source.session, target.session);
  const before = await hostName(client, ref);
  ctx.progress(`moving from ${before} to ${to.host ?? "the target cluster"}${relocation.datastore ? ` and datastore ${to.datastore}` : ""}`);
  const started = Date.now();
  await relocateVm(client, ref, relocation, { ...taskOptions(ctx), onProgress: (p) => p.progress !== undefined && ctx.progress(`relocating: ${p.progress}%`) });
  const totalMs = Date.now() - started;
  const after = await hostName(client, ref);
  ctx.progress(`now on ${after} after ${totalMs} ms`);
  const rest: ChangePlan = { ...plan, changes: plan.changes.filter((c) => c.path !== "host") };
  const moved = { ...old, host: next.host };
  const observed = rest.changes.length > 0 ? await target.update(id, moved, next, rest, ctx) : await target.read(id, next);
  if (!observed) throw new Error(`VM "${next.name}" (${id}) disappeared during the move to "${next.host}"`);
  observed.outputs.migration = { totalMs, fromHost: before, toHost: after, storage: relocation.datastore !== undefined };
  return observed;
}

/** Only what differs between the two entries is sent, so a same-host entry change is a no-op move. */
async function relocationTarget(client: VimClient, from: VsphereSession, to: VsphereSession): Promise<{ host?: MoRef; pool?: MoRef; datastore?: MoRef }> {
  const host = await to.esxiHost();
  const pool = await to.pool();
  const moveStorage = to.config.datastore !== undefined && to.config.datastore !== from.config.datastore;
  const datastore = moveStorage ? await lookup(client, "datastore", to.config.datastore!, to.datacenter) : undefined;
  return { host, pool, datastore };
}

async function hostName(client: VimClient, vm: MoRef): Promise<string> {
  const host = moref((await getProperties(client, vm, ["runtime.host"])).props.get("runtime.host"));
  if (!host) return "no host";
  return text((await getProperties(client, host, ["name"])).props.get("name")) ?? host.value;
}
