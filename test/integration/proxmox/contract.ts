// Checks a request against Proxmox VE's published API schema (the tree behind PVE's API viewer,
// ../shared/contracts/proxmox-ve-api.json, loaded at test time and never copied): the path and
// method exist and take API tokens, every parameter is declared, required ones are there, and each
// value fits its type, range, enum, pattern and format — property strings key by key.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { PveRequest } from "../../../provider/drivers/proxmox/api/client";

export const SCHEMA_FILE = path.resolve(__dirname, "../../../../shared/contracts/proxmox-ve-api.json");

interface ParamDef {
  type?: string;
  optional?: number;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  format?: string | Record<string, ParamDef>;
  items?: ParamDef;
  default_key?: number;
  alias?: string;
  keyAlias?: string;
}
interface MethodInfo {
  allowtoken?: number;
  parameters?: { properties?: Record<string, ParamDef> };
}
interface Node {
  path: string;
  info?: Record<string, MethodInfo>;
  children?: Node[];
}

export class PveSchema {
  private readonly templates: { parts: string[]; node: Node }[] = [];

  constructor(tree: Node[]) {
    const walk = (n: Node) => {
      this.templates.push({ parts: n.path.split("/").slice(1), node: n });
      n.children?.forEach(walk);
    };
    tree.forEach(walk);
  }

  static available(): boolean {
    return existsSync(SCHEMA_FILE);
  }

  static load(): PveSchema {
    return new PveSchema(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Node[]);
  }

  /** Every way the request breaks the schema; empty when it is valid. */
  problems(req: PveRequest, { token = true } = {}): string[] {
    const parts = req.path.split("/").slice(1);
    const match = this.templates.find((t) => t.parts.length === parts.length && t.parts.every((p, i) => p.startsWith("{") || p === parts[i]));
    if (!match) return [`${req.method} ${req.path}: no such path in the PVE API`];
    const info = match.node.info?.[req.method];
    if (!info) return [`${req.method} ${match.node.path}: the path has no ${req.method}`];
    const where = `${req.method} ${match.node.path}`;
    const out: string[] = [];
    if (token && info.allowtoken === 0) out.push(`${where}: API tokens are not allowed here`);
    const props = info.parameters?.properties ?? {};
    const given: Record<string, string> = { ...req.params };
    match.parts.forEach((p, i) => {
      if (p.startsWith("{")) given[p.slice(1, -1)] = decodeURIComponent(parts[i]);
    });
    for (const [name, value] of Object.entries(given)) {
      const def = props[name] ?? props[name.replace(/\d+$/, "[n]")];
      if (!def) {
        out.push(`${where}: parameter "${name}" is not declared`);
        continue;
      }
      out.push(...checkValue(def, value, this.configKeys(props)).map((p) => `${where}: ${name}=${JSON.stringify(value)}: ${p}`));
    }
    for (const [name, items] of Object.entries(req.lists ?? {})) {
      const def = props[name];
      if (!def) out.push(`${where}: parameter "${name}" is not declared`);
      else if (def.type !== "array" || !def.items) out.push(`${where}: ${name} is sent as a list but is a ${def.type ?? "value"}`);
      else
        for (const [i, item] of items.entries()) {
          out.push(...checkValue(def.items, item, this.configKeys(props)).map((p) => `${where}: ${name}[${i}]=${JSON.stringify(item)}: ${p}`));
        }
    }
    for (const [name, def] of Object.entries(props)) {
      if (!def.optional && !name.includes("[n]") && given[name] === undefined && req.lists?.[name] === undefined) out.push(`${where}: required parameter "${name}" is missing`);
    }
    return out;
  }

  /** The config keys a `delete` list may name: the method's own parameters, `[n]` ones with a number. */
  private configKeys(props: Record<string, ParamDef>): (key: string) => boolean {
    return (key) => key in props || key.replace(/\d+$/, "[n]") in props;
  }
}

function checkValue(def: ParamDef, value: string, isConfigKey: (k: string) => boolean): string[] {
  const out: string[] = [];
  switch (def.type) {
    case "integer":
    case "number": {
      if (!(def.type === "integer" ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(value)) return [`not a${def.type === "integer" ? "n integer" : " number"}`];
      const n = Number(value);
      if (def.minimum !== undefined && n < def.minimum) out.push(`below the minimum ${def.minimum}`);
      if (def.maximum !== undefined && n > def.maximum) out.push(`above the maximum ${def.maximum}`);
      return out;
    }
    case "boolean":
      return /^(0|1|true|false|on|off|yes|no)$/i.test(value) ? [] : ["not a boolean"];
  }
  if (def.enum && !def.enum.includes(value)) out.push(`not one of ${def.enum.join(", ")}`);
  if (def.maxLength !== undefined && value.length > def.maxLength) out.push(`longer than ${def.maxLength}`);
  // Perl's (?^:…) group (default flags) is a plain group here.
  if (def.pattern && !new RegExp(`^(?:${def.pattern.replace(/\(\?\^:/g, "(?:")})$`).test(value)) out.push(`does not match /${def.pattern}/`);
  if (typeof def.format === "object") out.push(...checkPropertyString(def.format, value, isConfigKey));
  else if (def.format) out.push(...checkFormat(def.format, value, isConfigKey));
  return out;
}

/** `a=1,b=x` against the format's keys; a bare first item is the default key's value; `virtio=MAC` is a key alias. */
function checkPropertyString(format: Record<string, ParamDef>, value: string, isConfigKey: (k: string) => boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [i, item] of value.split(",").entries()) {
    const eq = item.indexOf("=");
    let key = eq < 0 ? "" : item.slice(0, eq);
    const val = eq < 0 ? item : item.slice(eq + 1);
    if (eq < 0) {
      const defaultKey = Object.entries(format).find(([, d]) => d.default_key)?.[0];
      if (i !== 0 || !defaultKey) {
        out.push(`"${item}" has no key`);
        continue;
      }
      key = defaultKey;
    }
    let def = format[key];
    if (!def) {
      out.push(`unknown key "${key}"`);
      continue;
    }
    if (def.keyAlias) {
      // The key is a value of another key (a NIC model) and the value belongs to the alias (its MAC).
      out.push(...checkValue(format[def.keyAlias], key, isConfigKey).map((p) => `${def!.keyAlias} "${key}": ${p}`));
      seen.add(def.keyAlias);
      key = def.alias ?? key;
      def = format[key];
    } else if (def.alias) {
      key = def.alias;
      def = format[key];
    }
    if (seen.has(key)) out.push(`"${key}" given twice`);
    seen.add(key);
    out.push(...checkValue(def, val, isConfigKey).map((p) => `${key}: ${p}`));
  }
  for (const [key, def] of Object.entries(format)) {
    if (!def.optional && !def.alias && !def.keyAlias && !seen.has(key)) out.push(`"${key}" is required`);
  }
  return out;
}

const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const DNS_LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?";

/** PVE's named string formats used by NovaCron's requests, each as its docs describe it. */
function checkFormat(format: string, value: string, isConfigKey: (k: string) => boolean): string[] {
  const bad = (why: string) => [`${format}: ${why}`];
  switch (format) {
    case "pve-node":
      return new RegExp(`^${DNS_LABEL}$`).test(value) ? [] : bad("not a node name");
    case "pve-vmid":
      return /^\d+$/.test(value) && Number(value) >= 100 ? [] : bad("not a VM id");
    case "dns-name":
      return new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`).test(value) ? [] : bad("not a DNS name");
    case "pve-tag-list":
      return value.split(/[;, ]+/).every((t) => /^[a-z0-9_][a-z0-9_\-+.]*$/i.test(t)) ? [] : bad("a tag has characters PVE refuses");
    case "pve-configid":
      return /^[a-z][a-z0-9_]+$/i.test(value) ? [] : bad("not a config id (a letter, then letters, digits, _)");
    case "pve-configid-list":
      return value.split(/[,; ]+/).every((k) => /^[a-z][a-z0-9_-]*$/i.test(k) && isConfigKey(k)) ? [] : bad("names a key that is not a config key");
    case "pve-iface":
      // A letter, then 1-20 letters, digits or _, optionally :N or .N (an alias or a VLAN).
      return /^[A-Za-z][A-Za-z0-9_]{1,20}([:.]\d+)?$/.test(value) ? [] : bad("not an interface name");
    case "pve-bridge-id":
      return /^[-_.\w]+$/.test(value) ? [] : bad("not a bridge id");
    case "mac-addr":
      return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(value) && (parseInt(value.slice(0, 2), 16) & 1) === 0 ? [] : bad("not a unicast MAC");
    case "pve-storage-id":
      return STORAGE_ID.test(value) ? [] : bad("not a storage id");
    case "disk-size":
      return /^\d+(\.\d+)?[KMGT]?$/.test(value) ? [] : bad("not a size");
    case "pve-volume-id":
    case "pve-volume-id-or-qm-path": {
      if (format.endsWith("qm-path") && (value === "none" || value === "cdrom" || value.startsWith("/"))) return [];
      const [storage, ...rest] = value.split(":");
      return STORAGE_ID.test(storage) && rest.join(":") !== "" ? [] : bad("not storage:volume (or storage:size for a new disk)");
    }
    case "urlencoded":
      // PVE's check: only characters that survive URI unescaping unchanged, the rest as %XX.
      return /^[%a-zA-Z0-9\-_.!~*'()]*$/.test(value) && !/%(?![0-9a-fA-F]{2})/.test(value) ? [] : bad("not percent-encoded");
    case "pve-qm-ipconfig": {
      // [ip=<dhcp|IPv4/CIDR>] [,gw=<IPv4>] [,ip6=<dhcp|auto|IPv6/CIDR>] [,gw6=<IPv6>]
      const v4 = /^(\d{1,3}\.){3}\d{1,3}$/;
      const checks: Record<string, (v: string) => boolean> = {
        ip: (v) => v === "dhcp" || (v.includes("/") && v4.test(v.split("/")[0])),
        gw: (v) => v4.test(v),
        ip6: (v) => v === "dhcp" || v === "auto" || /^[0-9a-f:]+\/\d{1,3}$/i.test(v),
        gw6: (v) => /^[0-9a-f:]+$/i.test(v),
      };
      for (const item of value.split(",")) {
        const [key, val = ""] = item.split("=", 2);
        if (!checks[key]) return bad(`unknown key "${key}"`);
        if (!checks[key](val)) return bad(`${key}=${val} is not accepted`);
      }
      return [];
    }
    case "pve-qm-boot": {
      // [[legacy=]<[acdn]{1,4}>] [,order=<device[;device...]>], each device a config key of the VM.
      const items = value.split(",").map((item) => (item.includes("=") ? item.split("=", 2) : ["legacy", item]));
      for (const [key, val] of items) {
        if (key === "legacy" && !/^[acdn]{1,4}$/.test(val)) return bad(`legacy "${val}" is not 1-4 of a, c, d, n`);
        if (key === "order" && !val.split(";").every((dev) => /^(ide|sata|scsi|virtio)\d+$|^net\d+$|^hostpci\d+$|^usb\d+$/.test(dev)))
          return bad(`order "${val}" names something that is not a boot device`);
        if (key !== "legacy" && key !== "order") return bad(`unknown key "${key}"`);
      }
      return [];
    }
    case "pve-storage-content-list":
      return value.split(",").every((c) => ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none"].includes(c)) ? [] : bad("names an unknown content type");
    case "pve-storage-path":
      return /^\/[^\0]*$/.test(value) && !value.split("/").includes("..") ? [] : bad("not an absolute path");
    case "pve-storage-server":
      return /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]|[0-9a-f:]+:[0-9a-f:]*|[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*)$/i.test(value)
        ? []
        : bad("not an address or DNS name");
    case "pve-storage-vgname":
      return /^[a-zA-Z0-9.+_][a-zA-Z0-9.+_-]+$/.test(value) ? [] : bad("not a volume group name");
    case "pve-vm-cpu-conf": {
      const type = value.split(",")[0].replace(/^cputype=/, "");
      return /^[A-Za-z0-9_.-]+$/.test(type) ? [] : bad("not a CPU type");
    }
    case "pve-storage-content":
      return ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"].includes(value) ? [] : bad("not a content type");
    case "pve-lxc-mp-string":
      // A mount's volume (storage:volume, storage:size for a new one, or a host path) or its path inside.
      return /^\/[^,;=\0]*$/.test(value) || (/^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(value) && !/[,;=]/.test(value)) ? [] : bad("not a volume or an absolute path");
    case "ipv4":
      return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(value) ? [] : bad("not an IPv4 address");
    case "pve-ipv4-config":
      return value === "dhcp" || value === "manual" || /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/.test(value)
        ? []
        : bad("not dhcp, manual or an IPv4 CIDR");
    case "pve-vmid-list":
      return value.split(/[,; ]+/).every((id) => /^\d+$/.test(id) && Number(id) >= 100) ? [] : bad("not a list of guest ids");
    case "prune-backups":
      return value.split(",").every((kv) => /^keep-(all=[01]|(last|hourly|daily|weekly|monthly|yearly)=\d+)$/.test(kv))
        ? []
        : bad("not keep-last/hourly/daily/weekly/monthly/yearly=N or keep-all");
    default:
      return bad("this format is not checked by NovaCron's contract test yet; teach checkFormat it");
  }
}
