// Declarative XDR codecs: each libvirt struct is described once as data and
// the TypeScript type falls out of the description (Infer<>), so the wire
// layout and the static type can never drift apart.
import { XdrError, XdrReader, XdrWriter } from "./xdr";

export interface Codec<T> {
  readonly enc: (w: XdrWriter, v: T) => void;
  readonly dec: (r: XdrReader) => T;
  /** Smallest encoded size, used to bound hostile array counts. */
  readonly min: number;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

/** libvirt's generic cap on strings (REMOTE_STRING_MAX). */
export const STRING_MAX = 1048576;

export const int: Codec<number> = { enc: (w, v) => w.int(v), dec: (r) => r.int(), min: 4 };
export const uint: Codec<number> = { enc: (w, v) => w.uint(v), dec: (r) => r.uint(), min: 4 };
export const hyper: Codec<bigint> = { enc: (w, v) => w.hyper(v), dec: (r) => r.hyper(), min: 8 };
export const uhyper: Codec<bigint> = { enc: (w, v) => w.uhyper(v), dec: (r) => r.uhyper(), min: 8 };
export const double: Codec<number> = { enc: (w, v) => w.double(v), dec: (r) => r.double(), min: 8 };
/** libvirt carries booleans as plain ints; any non-zero is true. */
export const bool: Codec<boolean> = { enc: (w, v) => w.int(v ? 1 : 0), dec: (r) => r.int() !== 0, min: 4 };
export const str: Codec<string> = { enc: (w, v) => w.string(v), dec: (r) => r.string(STRING_MAX), min: 4 };
export const VOID: Codec<void> = { enc: () => undefined, dec: () => undefined, min: 0 };

export function opaqueFixed(n: number): Codec<Buffer> {
  return {
    enc: (w, v) => {
      if (v.length !== n) throw new XdrError(`fixed opaque needs ${n} bytes, got ${v.length}`);
      w.fixed(v);
    },
    dec: (r) => r.fixed(n),
    min: n,
  };
}

export function opaque(max: number): Codec<Buffer> {
  return {
    enc: (w, v) => {
      if (v.length > max) throw new XdrError(`opaque of ${v.length} bytes exceeds limit ${max}`);
      w.opaque(v);
    },
    dec: (r) => r.opaque(max),
    min: 4,
  };
}

export function array<T>(item: Codec<T>, max: number): Codec<T[]> {
  return {
    enc: (w, v) => {
      if (v.length > max) throw new XdrError(`array of ${v.length} exceeds limit ${max}`);
      w.uint(v.length);
      for (const x of v) item.enc(w, x);
    },
    dec: (r) => {
      const n = r.count(max, Math.max(item.min, 1));
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = item.dec(r);
      return out;
    },
    min: 4,
  };
}

/** C `char x[n]` style vectors: n elements, no length prefix. */
export function vector<T>(item: Codec<T>, n: number): Codec<T[]> {
  return {
    enc: (w, v) => {
      if (v.length !== n) throw new XdrError(`vector needs ${n} elements, got ${v.length}`);
      for (const x of v) item.enc(w, x);
    },
    dec: (r) => {
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = item.dec(r);
      return out;
    },
    min: item.min * n,
  };
}

/** XDR optional-data (`T *`): a bool discriminant then the value. */
export function optional<T>(item: Codec<T>): Codec<T | null> {
  return {
    enc: (w, v) => {
      if (v === null || v === undefined) {
        w.uint(0);
      } else {
        w.uint(1);
        item.enc(w, v);
      }
    },
    dec: (r) => {
      const present = r.uint();
      if (present === 0) return null;
      if (present !== 1) throw new XdrError(`bad optional discriminant ${present}`);
      return item.dec(r);
    },
    min: 4,
  };
}

export function map<A, B>(inner: Codec<A>, to: (a: A) => B, from: (b: B) => A): Codec<B> {
  return { enc: (w, v) => inner.enc(w, from(v)), dec: (r) => to(inner.dec(r)), min: inner.min };
}

// `any` is confined to this constraint: a field table may hold codecs of any
// value type; each field's own type is recovered precisely by Infer<>.
// biome-ignore lint/suspicious/noExplicitAny: the map admits any codec; Infer<> recovers each field type
type Fields = Record<string, Codec<any>>;
export type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

/** Fields are encoded in declaration order, which is the wire order. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  const names = entries.map(([k]) => k);
  const codecs = entries.map(([, c]) => c);
  const n = entries.length;
  return {
    enc: (w, v) => {
      const rec = v as Record<string, unknown>;
      for (let i = 0; i < n; i++) codecs[i].enc(w, rec[names[i]]);
    },
    dec: (r) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) out[names[i]] = codecs[i].dec(r);
      return out as StructOf<F>;
    },
    min: codecs.reduce((s, c) => s + c.min, 0),
  };
}

export function encode<T>(codec: Codec<T>, value: T): Buffer {
  const w = new XdrWriter();
  codec.enc(w, value);
  return Buffer.from(w.bytes());
}

/** Decodes a whole payload and insists every byte was understood. */
export function decode<T>(codec: Codec<T>, payload: Buffer, what = "payload"): T {
  const r = new XdrReader(payload);
  const v = codec.dec(r);
  r.done(what);
  return v;
}
