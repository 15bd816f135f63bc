import { z } from "zod";
import type { HypervisorCapabilities } from "../capabilities";
import { alwaysReplacing } from "../classify";
import { RESOURCE_MODELS, RESOURCE_KINDS, type ResourceKind } from "../model";

/**
 * Builds the Pulumi package schema from the zod model, so schema.json can never disagree with
 * what check() accepts. Written by `npm run schema` (provider/dynamic/schema.ts); a test fails
 * when the committed file is stale.
 */
type Json = Record<string, unknown>;
interface PropertySpec {
  type?: string;
  items?: PropertySpec;
  additionalProperties?: PropertySpec;
  $ref?: string;
  description?: string;
  default?: unknown;
  secret?: boolean;
  [key: string]: unknown;
}

const COMPUTED_OUTPUTS: Record<ResourceKind, Record<string, PropertySpec>> = {
  VirtualMachine: {
    state: { type: "string", description: "Power state reported by the hypervisor." },
    uuid: { type: "string" },
    hostId: {
      type: "string",
      description:
        "The VM's id on the host it is on. After a cross-hypervisor move the resource id is the old host's until the next refresh (an update cannot change it); NovaCron addresses the VM by this.",
    },
    ipAddress: { type: "string", description: "First IPv4 address, when waitForIp is set." },
    macAddresses: { type: "object", additionalProperties: { type: "string" }, description: "NIC slot → MAC address." },
    lastChange: { type: "array", items: { type: "string" }, description: "Each field of the last update with its disruption class." },
    lastChangeClass: { type: "string", description: "The most disruptive class of the last update." },
    migration: {
      type: "object",
      additionalProperties: { $ref: "pulumi.json#/Any" },
      description: "The last live migration: total time, downtime, bytes, and (libvirt) the strategy choices the driver made and the dirty rate it met.",
    },
    unmanaged: { type: "array", items: { type: "string" }, description: "Devices on the VM that NovaCron does not manage: kept as they are through every update." },
  },
  StoragePool: { state: { type: "string" }, uuid: { type: "string" }, capacityBytes: { type: "number" } },
  Volume: { path: { type: "string" }, capacityBytes: { type: "number" } },
  Network: { state: { type: "string" }, uuid: { type: "string" } },
  PassthroughDevice: { observed: { type: "object", additionalProperties: { $ref: "pulumi.json#/Any" }, description: "What the host reports for the device." } },
  Snapshot: { state: { type: "string" } },
  Container: {
    state: { type: "string", description: "Power state reported by the hypervisor." },
    macAddresses: { type: "object", additionalProperties: { type: "string" }, description: "NIC slot → MAC address." },
    lastChange: { type: "array", items: { type: "string" }, description: "Each field of the last update with its disruption class." },
    lastChangeClass: { type: "string", description: "The most disruptive class of the last update." },
  },
  Backup: {
    state: { type: "string", description: "`listed` when the storage lists the archive; `unlisted` when the server did not show one." },
    archive: { type: "string", description: "Volume id of the archive, e.g. `local:backup/vzdump-lxc-101-….tar.zst`: a Container's restoreFrom." },
    sizeBytes: { type: "number" },
    createdAt: { type: "string", description: "When the backup task started (ISO 8601)." },
  },
};

/**
 * `capabilities`: every driver's table. A field is declared replace-on-change only when it always
 * replaces: no driver's own rule makes its change something milder (vSphere changes a
 * portgroup's VLAN in place, for one).
 */
export function generatePackageSchema(version: string, capabilities: readonly HypervisorCapabilities[]): Json {
  const types: Record<string, Json> = {};
  const resources: Record<string, Json> = {};
  for (const kind of RESOURCE_KINDS) {
    const model = RESOURCE_MODELS[kind];
    const json = z.toJSONSchema(model.schema, { io: "input", unrepresentable: "any" }) as Json;
    const inputs = objectProperties(json, kind, types, model.secrets);
    const required = (json.required as string[] | undefined) ?? [];
    const replaceOn = alwaysReplacing(kind).filter((p) => !p.includes("*") && !capabilities.some((c) => overridesReplace(c, kind, p)));
    resources[`novacron:index:${kind}`] = {
      description: model.description,
      inputProperties: inputs,
      requiredInputs: required,
      properties: { ...inputs, ...COMPUTED_OUTPUTS[kind] },
      required: [...required, ...Object.keys(COMPUTED_OUTPUTS[kind]).filter((k) => k === "state")],
      ...(replaceOn.length > 0 ? { replaceOnChanges: replaceOn } : {}),
    };
  }
  return {
    name: "novacron",
    displayName: "NovaCron",
    version,
    description: "Hypervisor-neutral virtual machines as code: KVM/QEMU, vSphere, Proxmox VE, Hyper-V, XCP-ng.",
    keywords: ["pulumi", "kvm", "libvirt", "vsphere", "proxmox", "hyperv", "xcp-ng", "virtual-machines"],
    license: "Apache-2.0",
    config: {
      variables: {
        hosts: { type: "string", secret: true, description: "JSON object: host name → { driver, uri | url, credentials… }. Set with `pulumi config set --secret`." },
      },
    },
    types,
    resources,
  };
}

function objectProperties(json: Json, typeName: string, types: Record<string, Json>, secrets: readonly string[], prefix = ""): Record<string, PropertySpec> {
  const props = (json.properties as Record<string, Json> | undefined) ?? {};
  return Object.fromEntries(
    Object.entries(props).map(([name, schema]) => {
      const path = prefix ? `${prefix}.${name}` : name;
      const spec = propertySpec(schema, `${typeName}${capitalise(name)}`, types, secrets, path);
      if (secrets.some((s) => s === path)) spec.secret = true;
      return [name, spec];
    }),
  );
}

function propertySpec(schema: Json, typeName: string, types: Record<string, Json>, secrets: readonly string[], path: string): PropertySpec {
  const base: PropertySpec = {};
  if (typeof schema.description === "string") base.description = schema.description;
  if (schema.default !== undefined && typeof schema.default !== "object") base.default = schema.default;
  const variants = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (variants) {
    const first = variants.find((v) => v.type !== "null") ?? {};
    return { ...propertySpec(first, typeName, types, secrets, path), ...base };
  }
  switch (schema.type) {
    case "string":
      return { ...base, type: "string" };
    case "integer":
      return { ...base, type: "integer" };
    case "number":
      return { ...base, type: "number" };
    case "boolean":
      return { ...base, type: "boolean" };
    case "array":
      return { ...base, type: "array", items: propertySpec((schema.items as Json) ?? {}, typeName, types, secrets, `${path}.*`) };
    case "object": {
      if (schema.properties) {
        const required = (schema.required as string[] | undefined) ?? [];
        const token = `novacron:index:${typeName}`;
        types[token] = { type: "object", properties: objectProperties(schema, typeName, types, secrets, path), ...(required.length ? { required } : {}) };
        return { ...base, $ref: `#/types/${token}` };
      }
      const values = schema.additionalProperties;
      return {
        ...base,
        type: "object",
        additionalProperties: typeof values === "object" ? propertySpec(values as Json, typeName.replace(/s$/, ""), types, secrets, `${path}.*`) : { $ref: "pulumi.json#/Any" },
      };
    }
    default:
      return { ...base, $ref: "pulumi.json#/Any" };
  }
}

function overridesReplace(caps: HypervisorCapabilities, kind: ResourceKind, pattern: string): boolean {
  const rule = caps.changeRules[kind === "VirtualMachine" ? pattern : `${kind}:${pattern}`];
  if (rule === undefined) return false;
  return "grow" in rule ? rule.grow.disruption !== "replace" || rule.shrink.disruption !== "replace" : rule.disruption !== "replace";
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
