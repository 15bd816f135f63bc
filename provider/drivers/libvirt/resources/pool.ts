import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { StoragePoolSpec } from "../../../core/model";
import type { LibvirtClient, StoragePoolRef } from "../rpc";
import { orAbsent, tolerateGone, type LibvirtSession } from "../session";
import { buildStoragePoolXml, parseStoragePoolXml } from "../xml";

type Spec = StoragePoolSpec;
/** virStoragePoolState: 2 = running. */
const POOL_RUNNING = 2;
const POOL_STATES = ["inactive", "building", "running", "degraded", "inaccessible"];

/**
 * Storage pools on libvirt, id = pool name (unique per host). Libvirt keeps no metadata on pools,
 * so an existing pool is never counted as ours: it is refused unless adopted.
 */
export class LibvirtPoolResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("storagePoolLookupByName", { name: spec.name }));
    if (!found) return undefined;
    // Pools have no metadata in libvirt (a <metadata> element is dropped on define), so no pool
    // carries our mark: matching kind and path proves nothing about who made it. The runtime
    // refuses an existing pool unless the user adopts it.
    return { ...(await observe(client, found.pool, spec)), owned: false };
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const { pool } = await client.call("storagePoolDefineXml", { xml: buildStoragePoolXml(spec), flags: 0 });
    try {
      await start(client, pool, spec, ctx);
    } catch (error) {
      throw new PartialCreateError(pool.name, { state: "inactive" }, `pool "${spec.name}" was defined but could not start: ${(error as Error).message}`);
    }
    return observe(client, pool, spec);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("storagePoolLookupByName", { name: id }));
    return found ? observe(client, found.pool, last) : undefined;
  }

  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const { pool } = await client.call("storagePoolLookupByName", { name: id });
    await start(client, pool, next, ctx);
    return observe(client, pool, next);
  }

  async delete(id: string): Promise<void> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("storagePoolLookupByName", { name: id }));
    // An adopted pool stays unless deleteOnDestroy: the runtime does not call delete then.
    if (!found) return;
    await tolerateGone(client.call("storagePoolDestroy", { pool: found.pool }));
    await tolerateGone(client.call("storagePoolUndefine", { pool: found.pool }));
  }
}

/** Builds the target (creates the directory) where needed, starts the pool and sets autostart. */
async function start(client: LibvirtClient, pool: StoragePoolRef, spec: Spec, ctx: OperationContext): Promise<void> {
  const { active } = await client.call("storagePoolIsActive", { pool });
  if (!active) {
    if (spec.kind === "dir") await client.call("storagePoolBuild", { pool, flags: 0 }).catch(() => undefined);
    ctx.progress(`starting pool ${spec.name}`);
    await client.call("storagePoolCreate", { pool, flags: 0 });
  }
  await client.call("storagePoolSetAutostart", { pool, autostart: spec.autostart });
}

async function observe(client: LibvirtClient, pool: StoragePoolRef, last: Spec): Promise<Observed<Spec>> {
  const [{ xml }, info, { autostart }] = await Promise.all([
    client.call("storagePoolGetXmlDesc", { pool, flags: 0 }),
    client.call("storagePoolGetInfo", { pool }),
    client.call("storagePoolGetAutostart", { pool }),
  ]);
  const parsed = parseStoragePoolXml(xml);
  const spec: Spec = { ...last, name: parsed.name, kind: parsed.kind as Spec["kind"], path: parsed.path ?? last.path, source: parsed.source ?? last.source, autostart };
  return {
    id: pool.name,
    spec,
    owned: true,
    outputs: { uuid: pool.uuid, state: POOL_STATES[info.state] ?? String(info.state), capacityBytes: Number(info.capacity), running: info.state === POOL_RUNNING },
  };
}
