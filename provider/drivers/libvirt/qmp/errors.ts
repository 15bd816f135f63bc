/**
 * Failures are split by who is at fault so callers can decide to retry:
 * QmpError is QEMU refusing a command (retrying the same thing won't help),
 * the others are about the channel (reconnecting might).
 */

/** QEMU answered with `{"error": {class, desc}}`. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    /** QAPI error class, e.g. "GenericError", "CommandNotFound", "DeviceNotFound". */
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = "QmpError";
  }
}

/** The socket closed, failed, or was closed by us while a command waited. */
export class QmpConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "QmpConnectionError";
  }
}

/** No reply within the per-command deadline; the command may still run in QEMU. */
export class QmpTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`QMP ${command}: no reply within ${timeoutMs} ms`);
    this.name = "QmpTimeoutError";
  }
}

/** QEMU sent something that is not QMP (wrong socket, corrupted stream). */
export class QmpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QmpProtocolError";
  }
}
