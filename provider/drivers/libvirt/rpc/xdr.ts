// XDR (RFC 4506) primitives. The writer grows one buffer in place so a whole
// RPC frame is produced with a single allocation in the common case; the
// reader never reads past `end`, so a lying length field surfaces as an
// XdrError instead of garbage or an exception from Buffer internals.

export class XdrError extends Error {
  override readonly name: string = "XdrError";
}

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new XdrError(`int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new XdrError(`unsigned int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  hyper(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.pos);
    this.pos += 8;
  }

  uhyper(v: bigint): void {
    if (v < 0n) throw new XdrError(`unsigned hyper out of range: ${v}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Bytes without a length prefix, zero-padded to a 4-byte boundary. */
  fixed(bytes: Uint8Array): void {
    const p = pad4(bytes.length);
    this.ensure(bytes.length + p);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    if (p) {
      this.buf.fill(0, this.pos, this.pos + p);
      this.pos += p;
    }
  }

  opaque(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.fixed(bytes);
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.uint(n);
    const p = pad4(n);
    this.ensure(n + p);
    this.buf.write(s, this.pos, n, "utf8");
    this.pos += n;
    if (p) {
      this.buf.fill(0, this.pos, this.pos + p);
      this.pos += p;
    }
  }

  /** Overwrite a 32-bit unsigned value already written (used for frame length). */
  patchUint(at: number, v: number): void {
    this.buf.writeUInt32BE(v, at);
  }

  /** A view of the written bytes; valid until the next write. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class XdrReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new XdrError(`truncated XDR data: need ${n} bytes for ${what}, have ${this.end - this.pos}`);
    }
  }

  int(): number {
    this.need(4, "int");
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4, "unsigned int");
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8, "hyper");
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8, "unsigned hyper");
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8, "double");
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Copies, so decoded values never alias the socket's receive buffer. */
  fixed(n: number): Buffer {
    const total = n + pad4(n);
    this.need(total, `${n} opaque bytes`);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += total;
    return out;
  }

  opaque(max: number): Buffer {
    const n = this.uint();
    if (n > max) throw new XdrError(`opaque length ${n} exceeds limit ${max}`);
    return this.fixed(n);
  }

  string(max: number): string {
    const n = this.uint();
    if (n > max) throw new XdrError(`string length ${n} exceeds limit ${max}`);
    const total = n + pad4(n);
    this.need(total, "string");
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += total;
    return s;
  }

  /** Length of a variable array, checked against the protocol limit and
   *  against what could possibly still be in the buffer (each element is at
   *  least 4 bytes), so a hostile count cannot make us allocate gigabytes. */
  count(max: number, minElemBytes = 4): number {
    const n = this.uint();
    if (n > max) throw new XdrError(`array length ${n} exceeds limit ${max}`);
    if (n * minElemBytes > this.end - this.pos) throw new XdrError(`truncated XDR data: array of ${n} elements`);
    return n;
  }

  /** Fails if the payload has bytes the codec did not consume: that means
   *  our descriptor and the server disagree about the struct layout. */
  done(what: string): void {
    if (this.pos !== this.end) throw new XdrError(`${this.end - this.pos} unexpected trailing bytes after ${what}`);
  }
}
