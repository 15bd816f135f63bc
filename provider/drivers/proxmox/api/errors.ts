/**
 * What Proxmox VE answers when a call fails. PVE puts a one-line reason in `message` and, for
 * parameter checks (HTTP 400), one reason per parameter in `errors`.
 */
export class PveApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** PVE's own wording, trailing newline removed. */
    readonly reason: string,
    /** Per-parameter reasons of a 400 "Parameter verification failed." */
    readonly fieldErrors: Readonly<Record<string, string>> = {},
  ) {
    const fields = Object.entries(fieldErrors).map(([k, v]) => `${k}: ${v}`);
    super(`Proxmox VE ${method} ${path}: ${status} ${reason}${fields.length ? ` (${fields.join("; ")})` : ""}`);
    this.name = "PveApiError";
  }

  /** PVE's "does not exist" for a guest whose config file is gone (it answers 500, not 404). */
  get isMissingGuest(): boolean {
    return /Configuration file '[^']*' does not exist|does not exist$/.test(this.reason) && this.status !== 400;
  }

  /** The config changed between our read and our write (the `digest` we sent is stale). */
  get isStaleDigest(): boolean {
    return /checksum mismatch|detected modified configuration/.test(this.reason);
  }

  /** A held config lock: "VM is locked (backup)" now, or a lock wait that ran out. */
  get isLock(): boolean {
    return isLockMessage(this.reason);
  }
}

/** The connection failed before PVE answered (refused, TLS refused, pin mismatch, timeout). */
export class PveTransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PveTransportError";
  }
}

/** A task (UPID) that ended with anything but OK; the end of its log is quoted. */
export class PveTaskError extends Error {
  constructor(
    readonly upid: string,
    readonly exitStatus: string,
    readonly log: readonly string[],
  ) {
    const tail = log
      .slice(-12)
      .map((l) => `  | ${l}`)
      .join("\n");
    super(`Proxmox VE task ${taskLabel(upid)} failed: ${exitStatus}${tail ? `\ntask log:\n${tail}` : ""}`);
    this.name = "PveTaskError";
  }

  get isLock(): boolean {
    return isLockMessage(this.exitStatus);
  }
}

/** Both lock wordings of qemu-server: a config lock held by another operation, and a lock-file wait that timed out. */
export function isLockMessage(text: string): boolean {
  return /\bis locked \(\w+\)|can't lock file '[^']*' - got timeout/.test(text);
}

/** "qmstart VM 123 on pve1" out of a UPID (UPID:node:pid:pstart:starttime:type:id:user:). */
export function taskLabel(upid: string): string {
  const parts = upid.split(":");
  if (parts.length < 8 || parts[0] !== "UPID") return upid;
  const [, node, , , , type, id] = parts;
  return `${type}${id ? ` ${id}` : ""} on ${node}`;
}
