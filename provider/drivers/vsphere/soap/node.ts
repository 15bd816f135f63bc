// Responses are read as a small ordered tree rather than as loosely typed JSON:
// vim25 repeats elements for arrays, so a JSON view would make single-element
// arrays look like scalars. Accessors below make every read explicit.
import { MoRef, type XmlValue } from "./xml";

export interface XNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly text: string;
  readonly children: readonly XNode[];
}

export { parseXml } from "./parse";

function localName(name: string): string {
  const i = name.indexOf(":");
  return i < 0 ? name : name.slice(i + 1);
}

export function child(node: XNode | undefined, name: string): XNode | undefined {
  return node?.children.find((c) => c.name === name);
}

export function children(node: XNode | undefined, name: string): XNode[] {
  return node ? node.children.filter((c) => c.name === name) : [];
}

export function text(node: XNode | undefined, name?: string): string | undefined {
  const n = name === undefined ? node : child(node, name);
  return n?.text;
}

export function num(node: XNode | undefined, name?: string): number | undefined {
  const t = text(node, name);
  return t === undefined || t === "" ? undefined : Number(t);
}

export function bool(node: XNode | undefined, name?: string): boolean | undefined {
  const t = text(node, name);
  return t === undefined ? undefined : t === "true" || t === "1";
}

/**
 * The declared dynamic type (xsi:type) without any namespace prefix. Servers
 * pick their own prefix for the XML Schema instance namespace (vcsim writes
 * "XMLSchema-instance:type"); in vim25 the only prefixed "type" attribute is
 * that one, while the unprefixed "type" belongs to managed object references.
 */
export function xsiType(node: XNode | undefined): string | undefined {
  if (!node) return undefined;
  for (const [k, v] of Object.entries(node.attrs)) {
    if (k.endsWith(":type")) return localName(v);
  }
  return undefined;
}

export function moref(node: XNode | undefined, name?: string): MoRef | undefined {
  const n = name === undefined ? node : child(node, name);
  if (!n || n.attrs.type === undefined) return undefined;
  return new MoRef(n.attrs.type, n.text);
}

export function morefs(node: XNode | undefined, name: string): MoRef[] {
  return children(node, name).flatMap((c) => (c.attrs.type === undefined ? [] : [new MoRef(c.attrs.type, c.text)]));
}

/** Values typed ArrayOfX in property results wrap their items in X elements. */
export function arrayItems(node: XNode | undefined): XNode[] {
  return node ? [...node.children] : [];
}

/**
 * Turns a received data object back into a sendable value, keeping dynamic
 * types and element order. Edits of existing devices need this: servers expect
 * the whole device as they reported it, changed only where we mean to change it.
 */
export function toXmlValue(node: XNode): XmlValue {
  const type = xsiType(node);
  if (node.children.length === 0) {
    if (node.attrs.type !== undefined && (type === undefined || type === "ManagedObjectReference")) {
      return new MoRef(node.attrs.type, node.text);
    }
    if (type === undefined) return node.text;
    if (/^[a-z]/.test(type)) return { $type: `xsd:${type}`, $value: node.text };
    return node.text === "" ? { $type: type } : { $type: type, $value: node.text };
  }
  const fields: Record<string, XmlValue> = {};
  const repeated = new Set<string>();
  for (const c of node.children) {
    const value = toXmlValue(c);
    const prev = fields[c.name];
    if (prev === undefined) fields[c.name] = value;
    else {
      fields[c.name] = repeated.has(c.name) ? [...(prev as XmlValue[]), value] : [prev, value];
      repeated.add(c.name);
    }
  }
  return type === undefined ? fields : { $type: type, ...fields };
}
