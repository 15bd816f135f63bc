// A small XML reader for vim25 replies. It exists because the benchmark target
// (within 1.2x of govmomi) is lost in parsing: a general-purpose parser took
// ~1 ms for a 6 KB VM config, this takes a small fraction of that. SOAP replies
// need only elements, attributes, text, entities and CDATA; a DOCTYPE (and so
// any entity expansion) is refused outright.
import type { XNode } from "./node";

interface Building {
  readonly qname: string;
  readonly name: string;
  readonly attrs: Record<string, string>;
  text: string;
  readonly children: XNode[];
}

const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new SyntaxError("XML: bare '&' in text");
    if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const v = named[ref];
    if (v === undefined) throw new SyntaxError(`XML: unknown entity ${m}`);
    return v;
  });
}

function localName(q: string): string {
  const i = q.indexOf(":");
  return i < 0 ? q : q.slice(i + 1);
}

const attrRe = /\s*([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;
const nameRe = /[^\s/>]+/y;

export function parseXml(xml: string): XNode {
  const stack: Building[] = [];
  let root: XNode | undefined;
  let i = 0;
  const close = (b: Building): void => {
    const node: XNode = { name: b.name, attrs: b.attrs, text: b.text, children: b.children };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(node);
    else if (root) throw new SyntaxError("XML: more than one document element");
    else root = node;
  };
  for (;;) {
    const lt = xml.indexOf("<", i);
    const top = stack[stack.length - 1];
    if (lt < 0) {
      if (top) throw new SyntaxError(`XML: unclosed <${top.qname}>`);
      break;
    }
    if (lt > i && top) top.text += decode(xml.slice(i, lt));
    const c = xml.charCodeAt(lt + 1);
    if (c === 47 /* "/" */) {
      const gt = xml.indexOf(">", lt);
      if (gt < 0) throw new SyntaxError("XML: unterminated end tag");
      const qname = xml.slice(lt + 2, gt).trim();
      const b = stack.pop();
      if (!b || b.qname !== qname) throw new SyntaxError(`XML: </${qname}> does not close <${b?.qname ?? ""}>`);
      close(b);
      i = gt + 1;
    } else if (c === 63 /* "?" */) {
      const end = xml.indexOf("?>", lt);
      if (end < 0) throw new SyntaxError("XML: unterminated processing instruction");
      i = end + 2;
    } else if (c === 33 /* "!" */) {
      if (xml.startsWith("<!--", lt)) {
        const end = xml.indexOf("-->", lt + 4);
        if (end < 0) throw new SyntaxError("XML: unterminated comment");
        i = end + 3;
      } else if (xml.startsWith("<![CDATA[", lt)) {
        const end = xml.indexOf("]]>", lt + 9);
        if (end < 0 || !top) throw new SyntaxError("XML: bad CDATA section");
        top.text += xml.slice(lt + 9, end);
        i = end + 3;
      } else {
        throw new SyntaxError("XML: DOCTYPE and declarations are not accepted in SOAP replies");
      }
    } else {
      nameRe.lastIndex = lt + 1;
      const m = nameRe.exec(xml);
      if (!m) throw new SyntaxError("XML: tag without a name");
      const qname = m[0];
      const attrs: Record<string, string> = {};
      let j = nameRe.lastIndex;
      for (;;) {
        attrRe.lastIndex = j;
        const a = attrRe.exec(xml);
        if (!a) break;
        attrs[a[1] as string] = decode(a[2] ?? a[3] ?? "");
        j = attrRe.lastIndex;
      }
      while (xml.charCodeAt(j) <= 32) j++;
      const b: Building = { qname, name: localName(qname), attrs, text: "", children: [] };
      if (xml.charCodeAt(j) === 47 /* "/" */ && xml.charCodeAt(j + 1) === 62 /* ">" */) {
        close(b);
        i = j + 2;
      } else if (xml.charCodeAt(j) === 62) {
        stack.push(b);
        i = j + 1;
      } else {
        throw new SyntaxError(`XML: malformed start tag <${qname}`);
      }
    }
  }
  if (!root) throw new SyntaxError("XML: no document element");
  return root;
}
