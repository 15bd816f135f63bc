// Errors surfaced by the RPC client. Server-side failures keep libvirt's own
// numeric code/domain (virErrorNumber / virErrorDomain, stable ABI values) so
// callers can branch on meaning ("not found", "invalid operation") instead of
// matching message text, which varies across libvirt versions.
import type { RemoteError } from "./types";

// virErrorNumber values used by the helpers below (libvirt ABI).
export const ErrorCode = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_DOMAIN: 7,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  XML_DETAIL: 35,
  NETWORK_EXIST: 37,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_NETWORK: 43,
  AUTH_FAILED: 45,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  NO_NODE_DEVICE: 53,
  OPERATION_INVALID: 55,
  NO_INTERFACE: 57,
  NO_NWFILTER: 62,
  NO_SECRET: 66,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  NO_DOMAIN_SNAPSHOT: 72,
  ARGUMENT_UNSUPPORTED: 74,
  STORAGE_POOL_BUILT: 76,
  OPERATION_ABORTED: 78,
  NO_DOMAIN_METADATA: 80,
  MIGRATE_UNSAFE: 81,
  OPERATION_UNSUPPORTED: 84,
  AGENT_UNRESPONSIVE: 86,
  RESOURCE_BUSY: 87,
  ACCESS_DENIED: 88,
  STORAGE_VOL_EXIST: 90,
  CPU_INCOMPATIBLE: 91,
  XML_INVALID_SCHEMA: 92,
  NO_NWFILTER_BINDING: 101,
  NO_DOMAIN_CHECKPOINT: 103,
  NO_DOMAIN_BACKUP: 104,
  NETWORK_PORT_EXIST: 106,
  NO_NETWORK_PORT: 107,
} as const;

const NOT_FOUND = new Set<number>([
  ErrorCode.NO_DOMAIN,
  ErrorCode.NO_NETWORK,
  ErrorCode.NO_STORAGE_POOL,
  ErrorCode.NO_STORAGE_VOL,
  ErrorCode.NO_NODE_DEVICE,
  ErrorCode.NO_DOMAIN_SNAPSHOT,
  ErrorCode.NO_INTERFACE,
  ErrorCode.NO_NWFILTER,
  ErrorCode.NO_SECRET,
  ErrorCode.NO_DOMAIN_METADATA,
  ErrorCode.NO_NWFILTER_BINDING,
  ErrorCode.NO_DOMAIN_CHECKPOINT,
  ErrorCode.NO_DOMAIN_BACKUP,
  ErrorCode.NO_NETWORK_PORT,
]);

const ALREADY_EXISTS = new Set<number>([ErrorCode.DOM_EXIST, ErrorCode.NETWORK_EXIST, ErrorCode.STORAGE_VOL_EXIST, ErrorCode.NETWORK_PORT_EXIST]);

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** An error reported by libvirtd for one call. */
export class LibvirtError extends Error {
  override readonly name: string = "LibvirtError";
  readonly code: number;
  readonly domain: number;
  readonly level: number;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;
  /** The procedure that failed, for logs. */
  readonly procedure?: string;

  constructor(e: RemoteError, procedure?: string) {
    super(e.message ?? `libvirt error code ${e.code}`);
    this.code = e.code;
    this.domain = e.domain;
    this.level = e.level;
    this.str1 = e.str1;
    this.str2 = e.str2;
    this.str3 = e.str3;
    this.int1 = e.int1;
    this.int2 = e.int2;
    this.procedure = procedure;
  }

  /** Symbolic name of the code when we know it, e.g. "NO_DOMAIN". */
  get codeName(): string {
    return CODE_NAMES[this.code] ?? `CODE_${this.code}`;
  }

  isNotFound(): boolean {
    return NOT_FOUND.has(this.code);
  }
  isAlreadyExists(): boolean {
    return ALREADY_EXISTS.has(this.code);
  }
  isInvalidArg(): boolean {
    return this.code === ErrorCode.INVALID_ARG;
  }
  isOperationInvalid(): boolean {
    return this.code === ErrorCode.OPERATION_INVALID;
  }
  isUnsupported(): boolean {
    return (
      this.code === ErrorCode.NO_SUPPORT ||
      this.code === ErrorCode.OPERATION_UNSUPPORTED ||
      this.code === ErrorCode.CONFIG_UNSUPPORTED ||
      this.code === ErrorCode.ARGUMENT_UNSUPPORTED
    );
  }
  isAccessDenied(): boolean {
    return this.code === ErrorCode.ACCESS_DENIED || this.code === ErrorCode.OPERATION_DENIED || this.code === ErrorCode.AUTH_FAILED;
  }
  isTimeout(): boolean {
    return this.code === ErrorCode.OPERATION_TIMEOUT;
  }
  isBusy(): boolean {
    return this.code === ErrorCode.RESOURCE_BUSY;
  }
}

/** The transport failed or was closed: every call in flight gets this. */
export class LibvirtConnectionError extends Error {
  override readonly name: string = "LibvirtConnectionError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The peer sent bytes that are not valid libvirt RPC; the connection is closed. */
export class LibvirtProtocolError extends LibvirtConnectionError {
  override readonly name: string = "LibvirtProtocolError";
}

/** A single call exceeded its deadline; the connection stays usable. */
export class LibvirtTimeoutError extends Error {
  override readonly name: string = "LibvirtTimeoutError";
}

/** SSH host key was unknown or did not match known_hosts. */
export class HostKeyVerificationError extends LibvirtConnectionError {
  override readonly name: string = "HostKeyVerificationError";
  constructor(
    message: string,
    readonly host: string,
    readonly fingerprint: string,
  ) {
    super(message);
  }
}

export function isLibvirtError(e: unknown): e is LibvirtError {
  return e instanceof LibvirtError;
}
