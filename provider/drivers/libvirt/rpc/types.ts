// Wire shapes shared by many libvirt procedures (object references, typed
// parameters, the error record). Field order is the wire order.
import { Codec, Infer, array, bool, double, hyper, int, map, opaqueFixed, optional, str, struct, uhyper, uint } from "./codec";
import { XdrError } from "./xdr";

const UUID_BYTES = 16;

/** UUIDs travel as 16 raw bytes; callers deal in the canonical text form. */
export const uuid: Codec<string> = map(
  opaqueFixed(UUID_BYTES),
  (b) => {
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
  (s) => {
    const hex = s.replace(/-/g, "");
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new XdrError(`not a UUID: ${s}`);
    return Buffer.from(hex, "hex");
  },
);

export const optStr = optional(str);

export const domainRef = struct({ name: str, uuid, id: int });
export type DomainRef = Infer<typeof domainRef>;
export const networkRef = struct({ name: str, uuid });
export type NetworkRef = Infer<typeof networkRef>;
export const poolRef = struct({ name: str, uuid });
export type StoragePoolRef = Infer<typeof poolRef>;
export const volRef = struct({ pool: str, name: str, key: str });
export type StorageVolRef = Infer<typeof volRef>;
export const nodeDeviceRef = struct({ name: str });
export type NodeDeviceRef = Infer<typeof nodeDeviceRef>;
export const snapshotRef = struct({ name: str, dom: domainRef });
export type SnapshotRef = Infer<typeof snapshotRef>;

// virTypedParameterType numbering (libvirt ABI).
export const TypedParamType = {
  INT: 1,
  UINT: 2,
  LLONG: 3,
  ULLONG: 4,
  DOUBLE: 5,
  BOOLEAN: 6,
  STRING: 7,
} as const;

export type TypedParam =
  | { field: string; type: "int" | "uint" | "double"; value: number }
  | { field: string; type: "llong" | "ullong"; value: bigint }
  | { field: string; type: "boolean"; value: boolean }
  | { field: string; type: "string"; value: string };

/** A discriminated union on the wire: the int type selects the arm. */
export const typedParam: Codec<TypedParam> = {
  enc: (w, p) => {
    w.string(p.field);
    switch (p.type) {
      case "int": w.int(TypedParamType.INT); w.int(p.value); break;
      case "uint": w.int(TypedParamType.UINT); w.uint(p.value); break;
      case "llong": w.int(TypedParamType.LLONG); w.hyper(p.value); break;
      case "ullong": w.int(TypedParamType.ULLONG); w.uhyper(p.value); break;
      case "double": w.int(TypedParamType.DOUBLE); w.double(p.value); break;
      case "boolean": w.int(TypedParamType.BOOLEAN); w.int(p.value ? 1 : 0); break;
      case "string": w.int(TypedParamType.STRING); w.string(p.value); break;
    }
  },
  dec: (r) => {
    const field = str.dec(r);
    const t = r.int();
    switch (t) {
      case TypedParamType.INT: return { field, type: "int", value: int.dec(r) };
      case TypedParamType.UINT: return { field, type: "uint", value: uint.dec(r) };
      case TypedParamType.LLONG: return { field, type: "llong", value: hyper.dec(r) };
      case TypedParamType.ULLONG: return { field, type: "ullong", value: uhyper.dec(r) };
      case TypedParamType.DOUBLE: return { field, type: "double", value: double.dec(r) };
      case TypedParamType.BOOLEAN: return { field, type: "boolean", value: bool.dec(r) };
      case TypedParamType.STRING: return { field, type: "string", value: str.dec(r) };
      default: throw new XdrError(`unknown typed parameter type ${t} for field ${field}`);
    }
  },
  min: 12,
};

/** Generous cap: the protocol's per-procedure limits are all below this. */
export const TYPED_PARAMS_MAX = 1 << 16;
export const typedParams = array(typedParam, TYPED_PARAMS_MAX);

/** Flattens typed parameters to a plain record for reading stats. */
export function typedParamsToObject(params: readonly TypedParam[]): Record<string, number | bigint | boolean | string> {
  const out: Record<string, number | bigint | boolean | string> = {};
  for (const p of params) out[p.field] = p.value;
  return out;
}

export const remoteError = struct({
  code: int,
  domain: int,
  message: optStr,
  level: int,
  dom: optional(domainRef),
  str1: optStr,
  str2: optStr,
  str3: optStr,
  int1: int,
  int2: int,
  net: optional(networkRef),
});
export type RemoteError = Infer<typeof remoteError>;
