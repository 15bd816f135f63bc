// Wire shapes shared by many libvirt procedures (object references, typed
// parameters, the error record). Field order is the wire order.
import { type Codec, type Infer, array, bool, double, hyper, int, optional, str, struct, uhyper, uint } from "./codec";
import { XdrError } from "./xdr";

const UUID_BYTES = 16;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const UUID_TEXT = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/** UUIDs travel as 16 raw bytes; callers deal in the canonical text form. */
export const uuid: Codec<string> = {
  enc: (w, s) => {
    if (!UUID_TEXT.test(s)) throw new XdrError(`not a UUID: ${s}`);
    w.fixed(Buffer.from(s.replace(/-/g, ""), "hex"));
  },
  dec: (r) => {
    const b = r.fixed(UUID_BYTES);
    let out = "";
    for (let i = 0; i < UUID_BYTES; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
      out += HEX[b[i]];
    }
    return out;
  },
  min: UUID_BYTES,
};

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
      case "int":
        w.int(TypedParamType.INT);
        w.int(p.value);
        break;
      case "uint":
        w.int(TypedParamType.UINT);
        w.uint(p.value);
        break;
      case "llong":
        w.int(TypedParamType.LLONG);
        w.hyper(p.value);
        break;
      case "ullong":
        w.int(TypedParamType.ULLONG);
        w.uhyper(p.value);
        break;
      case "double":
        w.int(TypedParamType.DOUBLE);
        w.double(p.value);
        break;
      case "boolean":
        w.int(TypedParamType.BOOLEAN);
        w.int(p.value ? 1 : 0);
        break;
      case "string":
        w.int(TypedParamType.STRING);
        w.string(p.value);
        break;
    }
  },
  dec: (r) => {
    const field = str.dec(r);
    const t = r.int();
    switch (t) {
      case TypedParamType.INT:
        return { field, type: "int", value: int.dec(r) };
      case TypedParamType.UINT:
        return { field, type: "uint", value: uint.dec(r) };
      case TypedParamType.LLONG:
        return { field, type: "llong", value: hyper.dec(r) };
      case TypedParamType.ULLONG:
        return { field, type: "ullong", value: uhyper.dec(r) };
      case TypedParamType.DOUBLE:
        return { field, type: "double", value: double.dec(r) };
      case TypedParamType.BOOLEAN:
        return { field, type: "boolean", value: bool.dec(r) };
      case TypedParamType.STRING:
        return { field, type: "string", value: str.dec(r) };
      default:
        throw new XdrError(`unknown typed parameter type ${t} for field ${field}`);
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
