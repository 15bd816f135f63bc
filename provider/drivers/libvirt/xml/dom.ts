import { XMLParser, XMLValidator } from "fast-xml-parser";

/**
 * A read-only element tree over fast-xml-parser's ordered output. Parsers of libvirt documents walk
 * this instead of the parser's raw shape so that unknown elements are simply never looked at, and
 * repeated elements (disks, interfaces) keep their document order.
 */
export class XmlNode {
  constructor(
    readonly name: string,
    readonly attrs: Readonly<Record<string, string>>,
    readonly children: readonly XmlNode[],
    /** Concatenated direct text content, entities decoded, untrimmed. */
    readonly rawText: string,
  ) {}

  /** Local name: `nc:owner` → `owner`, for elements in foreign namespaces whose prefix we do not control. */
  get localName(): string {
    const colon = this.name.indexOf(":");
    return colon < 0 ? this.name : this.name.slice(colon + 1);
  }

  get text(): string {
    return this.rawText.trim();
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  child(name: string): XmlNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  all(name: string): XmlNode[] {
    return this.children.filter((c) => c.name === name);
  }

  /** Follows a path of child names, e.g. `at("os", "type")`. */
  at(...path: string[]): XmlNode | undefined {
    let node: XmlNode | undefined = this;
    for (const step of path) node = node?.child(step);
    return node;
  }

  /** Children matched by local name: metadata elements carry whatever prefix the writer chose. */
  allLocal(localName: string): XmlNode[] {
    return this.children.filter((c) => c.localName === localName);
  }

  childLocal(localName: string): XmlNode | undefined {
    return this.children.find((c) => c.localName === localName);
  }

  /** The namespace URI this element's prefix (or default namespace) is declared with on itself. */
  get namespaceUri(): string | undefined {
    const colon = this.name.indexOf(":");
    return colon < 0 ? this.attrs.xmlns : this.attrs[`xmlns:${this.name.slice(0, colon)}`];
  }
}

export class XmlParseError extends Error {
  constructor(what: string, detail: string) {
    super(`cannot parse ${what} XML: ${detail}`);
    this.name = "XmlParseError";
  }
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Own decoding: the parser's entity handling leaves numeric references (&#10;) alone. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: false,
  cdataPropName: "#cdata",
  commentPropName: "#comment",
});

/** fast-xml-parser's ordered node: one element-name key holding children, plus ":@" attributes. */
type RawNode = Record<string, unknown>;

function toNode(raw: RawNode): XmlNode | undefined {
  const name = Object.keys(raw).find((key) => key !== ":@");
  if (name === undefined || name.startsWith("#") || name.startsWith("?")) return undefined;
  const rawAttrs = (raw[":@"] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawAttrs)) attrs[key] = decodeEntities(String(value));
  const children: XmlNode[] = [];
  let text = "";
  for (const entry of (raw[name] ?? []) as RawNode[]) {
    if ("#text" in entry) text += decodeEntities(String(entry["#text"]));
    else if ("#cdata" in entry) text += ((entry["#cdata"] ?? []) as RawNode[]).map((t) => String(t["#text"] ?? "")).join("");
    else {
      const node = toNode(entry);
      if (node) children.push(node);
    }
  }
  return new XmlNode(name, attrs, children, text);
}

/** Parses a document and checks its root element name; anything malformed is an XmlParseError. */
export function parseXml(xml: string, rootName: string): XmlNode {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new XmlParseError(rootName, `${valid.err.msg} (line ${valid.err.line})`);
  const top = (parser.parse(xml) as RawNode[]).map(toNode).filter((n): n is XmlNode => n !== undefined);
  if (top.length !== 1) throw new XmlParseError(rootName, `expected one root element, found ${top.length}`);
  if (top[0].name !== rootName) throw new XmlParseError(rootName, `root element is <${top[0].name}>, expected <${rootName}>`);
  return top[0];
}
