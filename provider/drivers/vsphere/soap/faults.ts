// vim25 faults become typed errors so callers branch on `instanceof`, never on
// message text. Unknown fault types still arrive as VimFault with their name.
import { child, moref, text, xsiType, type XNode } from "./node";
import type { MoRef } from "./xml";

export class VimFault extends Error {
  /** The vim25 fault type, e.g. "InvalidPowerState". */
  readonly faultType: string;
  readonly detail: XNode | undefined;
  constructor(faultType: string, message: string, detail: XNode | undefined) {
    super(message ? `${faultType}: ${message}` : faultType);
    this.name = "VimFault";
    this.faultType = faultType;
    this.detail = detail;
  }
}

export class InvalidLoginError extends VimFault {
  constructor(message: string, detail: XNode | undefined) {
    super("InvalidLogin", `${message || "login failed"} (check the vSphere username and password; not retried)`, detail);
    this.name = "InvalidLoginError";
  }
}

export class NotAuthenticatedError extends VimFault {
  override name = "NotAuthenticatedError";
}

export class ManagedObjectNotFoundError extends VimFault {
  override name = "ManagedObjectNotFoundError";
  get object(): MoRef | undefined {
    return moref(this.detail, "obj");
  }
}

export class InvalidStateError extends VimFault {
  override name = "InvalidStateError";
}

export class InvalidPowerStateError extends InvalidStateError {
  override name = "InvalidPowerStateError";
  get existingState(): string | undefined {
    return text(this.detail, "existingState");
  }
}

export class DuplicateNameError extends VimFault {
  override name = "DuplicateNameError";
  get duplicateName(): string | undefined {
    return text(this.detail, "name");
  }
  get existing(): MoRef | undefined {
    return moref(this.detail, "object");
  }
}

export class InvalidArgumentError extends VimFault {
  override name = "InvalidArgumentError";
  get invalidProperty(): string | undefined {
    return text(this.detail, "invalidProperty");
  }
}

export class NotSupportedError extends VimFault {
  override name = "NotSupportedError";
}

export class FileAlreadyExistsError extends VimFault {
  override name = "FileAlreadyExistsError";
}

type FaultCtor = new (faultType: string, message: string, detail: XNode | undefined) => VimFault;

// Subtypes listed here map to their nearest typed parent so new server faults
// degrade to a useful class instead of the bare base.
const byType: Record<string, FaultCtor> = {
  NotAuthenticated: NotAuthenticatedError,
  ManagedObjectNotFound: ManagedObjectNotFoundError,
  InvalidState: InvalidStateError,
  InvalidPowerState: InvalidPowerStateError,
  InvalidHostState: InvalidStateError,
  InvalidDatastoreState: InvalidStateError,
  TaskInProgress: InvalidStateError,
  DuplicateName: DuplicateNameError,
  InvalidArgument: InvalidArgumentError,
  InvalidType: InvalidArgumentError,
  NotSupported: NotSupportedError,
  FileAlreadyExists: FileAlreadyExistsError,
};

export function makeFault(faultType: string, message: string, detail: XNode | undefined): VimFault {
  if (faultType === "InvalidLogin") return new InvalidLoginError(message, detail);
  const Ctor = byType[faultType] ?? VimFault;
  return new Ctor(faultType, message, detail);
}

/** From a SOAP <Fault>: the type lives in the detail element's xsi:type (or its name minus "Fault"). */
export function faultFromSoap(fault: XNode): VimFault {
  const message = text(fault, "faultstring") ?? "";
  const detail = child(fault, "detail")?.children[0];
  const type = xsiType(detail) ?? detail?.name.replace(/Fault$/, "") ?? "SystemError";
  return makeFault(type, message, detail);
}

/** From a LocalizedMethodFault (task info.error, property missingSet). */
export function faultFromLocalized(node: XNode): VimFault {
  const fault = child(node, "fault");
  return makeFault(xsiType(fault) ?? "SystemError", text(node, "localizedMessage") ?? "", fault);
}

/** Transport-level failure: HTTP status without a SOAP fault, TLS, connection refused. */
export class VimTransportError extends Error {
  override name = "VimTransportError";
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TaskTimeoutError extends Error {
  override name = "TaskTimeoutError";
  constructor(
    readonly task: MoRef,
    readonly timeoutMs: number,
  ) {
    super(`vSphere task ${task.value} did not finish within ${timeoutMs} ms`);
  }
}
