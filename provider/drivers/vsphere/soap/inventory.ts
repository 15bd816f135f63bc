// Names → managed object references, via SearchIndex.FindByInventoryPath (one
// round trip) instead of walking the tree. Paths are the ones the vSphere UI
// shows; relative paths are taken inside the datacenter's folder for the kind.
import type { VimClient } from "./client";
import { moref } from "./node";
import { getProperties } from "./property";
import type { MoRef } from "./xml";

export type InventoryKind = "datacenter" | "cluster" | "host" | "resourcePool" | "folder" | "datastore" | "network";

const accepted: Record<InventoryKind, readonly string[]> = {
  datacenter: ["Datacenter"],
  cluster: ["ClusterComputeResource"],
  // A standalone host sits under a ComputeResource of the same name.
  host: ["HostSystem", "ComputeResource"],
  // A cluster or standalone host stands for its root pool ("Resources").
  resourcePool: ["ResourcePool", "ClusterComputeResource", "ComputeResource"],
  folder: ["Folder"],
  datastore: ["Datastore"],
  network: ["Network", "DistributedVirtualPortgroup", "OpaqueNetwork"],
};

const datacenterFolder: Record<InventoryKind, string> = {
  datacenter: "",
  cluster: "host",
  host: "host",
  resourcePool: "host",
  folder: "vm",
  datastore: "datastore",
  network: "network",
};

export class InventoryNotFoundError extends Error {
  override name = "InventoryNotFoundError";
  constructor(
    readonly kind: InventoryKind,
    readonly path: string,
    detail = "",
  ) {
    super(`vSphere ${kind} "${path}" not found${detail ? `: ${detail}` : ""}`);
  }
}

/** The object at an inventory path such as "DC0/host/DC0_C0", or undefined. */
export async function findByInventoryPath(client: VimClient, inventoryPath: string): Promise<MoRef | undefined> {
  return moref(await client.invoke("FindByInventoryPath", client.serviceContent.ref("searchIndex"), { inventoryPath }));
}

/** A named child of a folder (FindChild), e.g. a VM by name in its folder. */
export async function findChild(client: VimClient, entity: MoRef, name: string): Promise<MoRef | undefined> {
  return moref(await client.invoke("FindChild", client.serviceContent.ref("searchIndex"), { entity, name }));
}

/** Escapes "/" inside a single name, as inventory paths require. */
export function pathSegment(name: string): string {
  return name.replace(/%/g, "%25").replace(/\//g, "%2f");
}

/**
 * Resolves `path` to an object of `kind`. "/DC0/host/C1" is absolute; "C1" with
 * datacenter "DC0" means "DC0/host/C1" for compute kinds, "DC0/vm/…" for
 * folders, and so on.
 */
export async function lookup(client: VimClient, kind: InventoryKind, path: string, datacenter?: string): Promise<MoRef> {
  let full = path.replace(/^\/+/, "");
  if (!path.startsWith("/") && kind !== "datacenter") {
    if (!datacenter) throw new InventoryNotFoundError(kind, path, "a relative path needs a datacenter");
    full = `${datacenter}/${datacenterFolder[kind]}${path ? `/${path}` : ""}`;
  }
  const ref = await findByInventoryPath(client, full);
  if (!ref) throw new InventoryNotFoundError(kind, path);
  if (!accepted[kind].includes(ref.type)) {
    throw new InventoryNotFoundError(kind, path, `it is a ${ref.type}`);
  }
  if (kind === "host" && ref.type === "ComputeResource") {
    const content = await getProperties(client, ref, ["host"]);
    const host = content.props.get("host")?.children[0];
    const h = moref(host);
    if (!h) throw new InventoryNotFoundError(kind, path, "compute resource without a host");
    return h;
  }
  if (kind === "resourcePool" && ref.type !== "ResourcePool") {
    const pool = moref((await getProperties(client, ref, ["resourcePool"])).props.get("resourcePool"));
    if (!pool) throw new InventoryNotFoundError(kind, path, "no root resource pool");
    return pool;
  }
  return ref;
}
