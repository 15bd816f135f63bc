import { el, type XmlElement } from "./element";
import type { XmlNode } from "./dom";

/**
 * NovaCron's ownership tag inside libvirt `<metadata>`. Libvirt keeps one element per namespace
 * there and preserves it verbatim, so our namespace URI (not the prefix, which readers may not
 * share) is what identifies it. Versioned URIs let a later format coexist with this one.
 */
export const DOMAIN_METADATA_NS = "https://novacron.dev/xmlns/domain/1";
export const NETWORK_METADATA_NS = "https://novacron.dev/xmlns/network/1";
const PREFIX = "novacron";
export const OWNER_MARKER = "novacron";
/** On objects NovaCron manages but did not make (adopt: true): labels live here, ownership does not. */
export const ADOPTED_MARKER = "novacron-adopted";

export interface Ownership {
  /** The Pulumi resource this object belongs to (its URN or logical name). */
  resource: string;
  project?: string;
  stack?: string;
  /** Managed but not made by NovaCron: written with ADOPTED_MARKER, so it never reads as ours. */
  adopted?: boolean;
}

export interface ParsedOwnership extends Partial<Ownership> {
  /** True only when our namespace carries our marker: the signal that create may adopt the object. */
  owned: boolean;
  labels: Record<string, string>;
  /** Extra attributes of `<owner>` that a given object kind stores (e.g. the domain's seed cdrom). */
  extras: Record<string, string>;
}

export function ownershipElement(namespace: string, owner: Ownership, labels: Record<string, string>, extras: Record<string, string> = {}): XmlElement {
  const q = (name: string) => `${PREFIX}:${name}`;
  const sortedLabels = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return el(
    q("novacron"),
    { [`xmlns:${PREFIX}`]: namespace },
    el(q("owner"), { "managed-by": owner.adopted ? ADOPTED_MARKER : OWNER_MARKER, resource: owner.resource, project: owner.project, stack: owner.stack }),
    ...Object.entries(extras).map(([key, value]) => el(q("extra"), { key, value })),
    el(q("labels"), {}, ...sortedLabels.map(([key, value]) => el(q("label"), { key, value }))),
  );
}

export function parseOwnership(metadata: XmlNode | undefined, namespace: string): ParsedOwnership {
  const none: ParsedOwnership = { owned: false, labels: {}, extras: {} };
  const root = metadata?.children.find((c) => c.namespaceUri === namespace);
  if (!root) return none;
  const owner = root.childLocal("owner");
  const labels: Record<string, string> = {};
  for (const label of root.childLocal("labels")?.allLocal("label") ?? []) {
    const key = label.attr("key");
    if (key !== undefined) labels[key] = label.attr("value") ?? "";
  }
  const extras: Record<string, string> = {};
  for (const extra of root.allLocal("extra")) {
    const key = extra.attr("key");
    if (key !== undefined) extras[key] = extra.attr("value") ?? "";
  }
  return {
    owned: owner?.attr("managed-by") === OWNER_MARKER,
    resource: owner?.attr("resource"),
    project: owner?.attr("project"),
    stack: owner?.attr("stack"),
    labels,
    extras,
  };
}
