// Datastores are the vSphere administrator's: NovaCron adopts and reads them,
// and never creates or deletes one.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, ResourceDriver } from "../../../core/driver";
import type { StoragePoolSpec } from "../../../core/model";
import { bool, getProperties, InventoryNotFoundError, lookup, ManagedObjectNotFoundError, MoRef, num, text } from "../soap";
import type { VsphereSession } from "../session";

export class VsphereDatastoreResource implements ResourceDriver<StoragePoolSpec> {
  constructor(private readonly session: VsphereSession) {}

  async find(spec: StoragePoolSpec): Promise<Observed<StoragePoolSpec> | undefined> {
    const ref = await this.lookup("datastore", spec.name);
    // `adopt` is the user's consent to manage an existing datastore; delete then leaves it.
    // Never counted as ours (NovaCron makes no datastores): the runtime wants adopt: true.
    return ref ? { ...(await this.observe(ref, spec)), owned: false } : undefined;
  }

  async create(spec: StoragePoolSpec): Promise<Observed<StoragePoolSpec>> {
    if (await this.lookup("datastore", spec.name)) {
      throw new Error(`datastore "${spec.name}" exists; set adopt: true to manage it (NovaCron never deletes a datastore)`);
    }
    throw new Error(
      `datastore "${spec.name}" does not exist in datacenter ${this.session.datacenter} on host "${this.session.host}"; NovaCron does not create vSphere datastores — create it in vCenter and set adopt: true`,
    );
  }

  read(id: string, last: StoragePoolSpec): Promise<Observed<StoragePoolSpec> | undefined> {
    return gone(this.observe(new MoRef("Datastore", id), last));
  }

  async update(id: string, _old: StoragePoolSpec, next: StoragePoolSpec, _plan: ChangePlan): Promise<Observed<StoragePoolSpec>> {
    return this.observe(new MoRef("Datastore", id), next);
  }

  async delete(): Promise<void> {
    // Adopted datastores stay: they hold data NovaCron did not put there.
  }

  private async observe(ref: MoRef, last: StoragePoolSpec): Promise<Observed<StoragePoolSpec>> {
    const c = await getProperties(await this.session.client(), ref, ["name", "summary"]);
    const summary = c.props.get("summary");
    const accessible = bool(summary, "accessible") ?? false;
    return {
      id: ref.value,
      spec: { ...last, name: text(c.props.get("name")) ?? last.name, kind: "datastore" },
      owned: true,
      outputs: { state: accessible ? "accessible" : "inaccessible", running: accessible, capacityBytes: num(summary, "capacity") },
    };
  }

  private lookup(kind: "datastore" | "network", name: string): Promise<MoRef | undefined> {
    return findInventory(this.session, kind, name);
  }
}

export async function findInventory(session: VsphereSession, kind: "datastore" | "network", name: string): Promise<MoRef | undefined> {
  try {
    return await lookup(await session.client(), kind, name, session.datacenter);
  } catch (error) {
    if (error instanceof InventoryNotFoundError) return undefined;
    throw error;
  }
}

export async function gone<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof ManagedObjectNotFoundError) return undefined;
    throw error;
  }
}
