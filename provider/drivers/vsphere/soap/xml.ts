// Typed construction of vim25 request bodies. vim25 is a document/literal SOAP
// API whose schema uses xsd:sequence, so strict servers (real vCenter) reject
// elements out of order: callers build objects with keys in schema order and
// this module preserves insertion order.

/** A reference to a server-side managed object, e.g. {type: "VirtualMachine", value: "vm-42"}. */
export class MoRef {
  constructor(
    readonly type: string,
    readonly value: string,
  ) {}
  equals(other: MoRef | undefined): boolean {
    return other !== undefined && other.type === this.type && other.value === this.value;
  }
  toString(): string {
    return `${this.type}:${this.value}`;
  }
}

/** A value typed as xsd:anyType on the wire (e.g. OptionValue.value) needs an explicit xsi:type. */
export interface AnyTyped {
  readonly $type: string;
  readonly $value: string | number | boolean;
}

export type XmlPrimitive = string | number | boolean;
export type XmlValue = XmlPrimitive | MoRef | AnyTyped | XmlObject | readonly XmlValue[];
/** A data object; `$type` becomes xsi:type, needed wherever the schema declares a base type. */
export interface XmlObject {
  readonly $type?: string;
  readonly [field: string]: XmlValue | undefined;
}

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function escapeXml(text: string): string {
  // Control characters other than tab/newline/CR are not allowed in XML 1.0 at all.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) {
    throw new TypeError("vim25 strings cannot carry control characters; base64-encode binary data");
  }
  return text.replace(/[&<>"']/g, (c) => escapes[c] ?? c);
}

function primitive(value: XmlPrimitive): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot send ${value} to vim25`);
    return String(value);
  }
  return typeof value === "boolean" ? String(value) : escapeXml(value);
}

function isAnyTyped(value: object): value is AnyTyped {
  return "$value" in value && "$type" in value;
}

/** Serialises one element; undefined fields are omitted, arrays repeat the element. */
export function element(name: string, value: XmlValue | undefined): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((v: XmlValue) => element(name, v)).join("");
  if (typeof value !== "object") return `<${name}>${primitive(value as XmlPrimitive)}</${name}>`;
  if (value instanceof MoRef) return `<${name} type="${escapeXml(value.type)}">${escapeXml(value.value)}</${name}>`;
  if (isAnyTyped(value)) return `<${name} xsi:type="${escapeXml(value.$type)}">${primitive(value.$value)}</${name}>`;
  const obj = value as XmlObject;
  const typeAttr = obj.$type ? ` xsi:type="${escapeXml(obj.$type)}"` : "";
  let body = "";
  for (const [key, child] of Object.entries(obj)) {
    if (key !== "$type") body += element(key, child);
  }
  return `<${name}${typeAttr}>${body}</${name}>`;
}

/** A whole request: the method element carries `_this` first, then parameters in order. */
export function envelope(method: string, self: MoRef, params: XmlObject): string {
  let body = element("_this", self);
  for (const [key, value] of Object.entries(params)) body += element(key, value);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${method} xmlns="urn:vim25">${body}</${method}></soapenv:Body></soapenv:Envelope>`
  );
}
