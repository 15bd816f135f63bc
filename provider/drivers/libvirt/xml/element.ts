/**
 * A tiny typed XML element builder. Libvirt reads whatever we send verbatim, so every attribute and
 * text value goes through one escaping path here instead of string templates scattered around.
 */

export type AttrValue = string | number | boolean | undefined;
export type Child = XmlElement | string | number | undefined | null | false;

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly children: readonly (XmlElement | string)[];
}

/** Undefined attributes and falsy children are dropped, so optional parts read as plain conditionals. */
export function el(name: string, attrs: Record<string, AttrValue> = {}, ...children: Child[]): XmlElement {
  const kept: (XmlElement | string)[] = [];
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    kept.push(typeof child === "number" ? String(child) : child);
  }
  return { name, attrs, children: kept };
}

/** An element that only appears when it would have content: libvirt rejects e.g. an empty <cputune> in some versions' schemas. */
export function elIfAny(name: string, attrs: Record<string, AttrValue>, ...children: Child[]): XmlElement | undefined {
  const built = el(name, attrs, ...children);
  return built.children.length > 0 ? built : undefined;
}

/** A bare carriage return would be normalised to a newline by any XML reader, so it travels as a reference. */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");
}

/** Quotes and whitespace control characters too: attribute-value normalisation would otherwise turn a newline into a space. */
export function escapeAttr(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

function attrText(value: AttrValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

export function render(root: XmlElement): string {
  const lines: string[] = [];
  write(root, 0, lines);
  return `${lines.join("\n")}\n`;
}

function write(node: XmlElement, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  const attrs = Object.entries(node.attrs)
    .map(([key, value]) => [key, attrText(value)] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .map(([key, value]) => ` ${key}="${escapeAttr(value)}"`)
    .join("");
  if (node.children.length === 0) {
    out.push(`${pad}<${node.name}${attrs}/>`);
    return;
  }
  // Text content is kept on one line: whitespace inside e.g. <cmdline> or <name> is significant.
  if (node.children.every((child) => typeof child === "string")) {
    out.push(`${pad}<${node.name}${attrs}>${escapeText(node.children.join(""))}</${node.name}>`);
    return;
  }
  out.push(`${pad}<${node.name}${attrs}>`);
  for (const child of node.children) {
    if (typeof child === "string") out.push(`${pad}  ${escapeText(child)}`);
    else write(child, depth + 1, out);
  }
  out.push(`${pad}</${node.name}>`);
}
