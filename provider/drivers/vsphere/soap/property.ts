// PropertyCollector reads. Everything the driver learns about the inventory
// comes through here, so results are returned complete: continuation tokens
// are followed until the server says there is no more.
import type { VimClient } from "./client";
import { faultFromLocalized, NotAuthenticatedError, type VimFault } from "./faults";
import { child, children, moref, text, type XNode } from "./node";
import type { MoRef, XmlObject } from "./xml";

export interface PropertySpec {
  readonly type: string;
  readonly pathSet: readonly string[];
}

export interface TraversalSpec {
  readonly name?: string;
  readonly type: string;
  readonly path: string;
  readonly skip?: boolean;
  readonly selectSet?: readonly (TraversalSpec | { readonly name: string })[];
}

export interface ObjectSpec {
  readonly obj: MoRef;
  readonly skip?: boolean;
  readonly selectSet?: readonly TraversalSpec[];
}

export interface PropertyFilterSpec {
  readonly propSet: readonly PropertySpec[];
  readonly objectSet: readonly ObjectSpec[];
}

export interface ObjectContent {
  readonly obj: MoRef;
  /** Property path → value element (its xsi:type tells the dynamic type). Unset properties are absent. */
  readonly props: ReadonlyMap<string, XNode>;
  /** Properties the server could not read, e.g. because of permissions. */
  readonly missing: ReadonlyMap<string, VimFault>;
}

function selectionXml(s: TraversalSpec | { readonly name: string }): XmlObject {
  if (!("path" in s)) return { $type: "SelectionSpec", name: s.name };
  return {
    $type: "TraversalSpec",
    name: s.name,
    type: s.type,
    path: s.path,
    skip: s.skip ?? false,
    selectSet: (s.selectSet ?? []).map(selectionXml),
  };
}

function filterXml(spec: PropertyFilterSpec): XmlObject {
  return {
    propSet: spec.propSet.map((p) => ({ type: p.type, all: false, pathSet: [...p.pathSet] })),
    objectSet: spec.objectSet.map((o) => ({
      obj: o.obj,
      skip: o.skip ?? false,
      selectSet: (o.selectSet ?? []).map(selectionXml),
    })),
  };
}

function parseObjects(result: XNode | undefined, into: ObjectContent[]): string | undefined {
  for (const o of children(result, "objects")) {
    const obj = moref(o, "obj");
    if (!obj) continue;
    const props = new Map<string, XNode>();
    for (const p of children(o, "propSet")) {
      const name = text(p, "name");
      const val = child(p, "val");
      if (name !== undefined && val) props.set(name, val);
    }
    const missing = new Map<string, VimFault>();
    for (const m of children(o, "missingSet")) {
      const fault = child(m, "fault");
      const path = text(m, "path");
      if (path !== undefined && fault) missing.set(path, faultFromLocalized(fault));
    }
    into.push({ obj, props, missing });
  }
  return text(result, "token") || undefined;
}

/** RetrievePropertiesEx, then ContinueRetrievePropertiesEx until the token runs out. */
export function retrieveProperties(client: VimClient, specs: readonly PropertyFilterSpec[], maxObjects?: number): Promise<ObjectContent[]> {
  return client.retryOnSessionLoss(() => retrieveOnce(client, specs, maxObjects));
}

async function retrieveOnce(client: VimClient, specs: readonly PropertyFilterSpec[], maxObjects: number | undefined): Promise<ObjectContent[]> {
  const pc = client.serviceContent.ref("propertyCollector");
  const out: ObjectContent[] = [];
  let token = parseObjects(
    await client.invoke("RetrievePropertiesEx", pc, {
      specSet: specs.map(filterXml),
      options: maxObjects === undefined ? {} : { maxObjects },
    }),
    out,
  );
  while (token) {
    token = parseObjects(await client.invoke("ContinueRetrievePropertiesEx", pc, { token }), out);
  }
  // Some servers answer a dead session with per-property NotAuthenticated
  // instead of a fault; surface it so the session is renewed.
  for (const o of out) {
    for (const f of o.missing.values()) if (f instanceof NotAuthenticatedError) throw f;
  }
  return out;
}

/** Properties of one object. A deleted object raises ManagedObjectNotFoundError. */
export async function getProperties(client: VimClient, obj: MoRef, pathSet: readonly string[]): Promise<ObjectContent> {
  const [content] = await retrieveProperties(client, [{ propSet: [{ type: obj.type, pathSet }], objectSet: [{ obj }] }]);
  return content ?? { obj, props: new Map(), missing: new Map() };
}

/** The same properties of many objects of one type, in one round trip. */
export async function getPropertiesOfMany(client: VimClient, objs: readonly MoRef[], pathSet: readonly string[]): Promise<ObjectContent[]> {
  if (objs.length === 0) return [];
  const types = [...new Set(objs.map((o) => o.type))];
  return retrieveProperties(client, [{ propSet: types.map((type) => ({ type, pathSet })), objectSet: objs.map((obj) => ({ obj })) }]);
}
