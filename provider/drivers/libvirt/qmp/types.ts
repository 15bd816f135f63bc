/**
 * Wire shapes of the QEMU Machine Protocol as QEMU sends them, plus the
 * transport seam that lets typed command helpers run over either our own
 * socket client or libvirt's monitor passthrough.
 */

/** Anything that can run one QMP command and hand back its `return` value. */
export interface QmpTransport {
  execute(command: string, args?: object): Promise<unknown>;
}

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  /** Distribution build string, e.g. "Debian 1:7.2+dfsg-7"; may be empty. */
  package: string;
}

/** The first message QEMU writes after accept(), before any negotiation. */
export interface QmpGreeting {
  version: QmpVersion;
  /** Optional features the server offers (e.g. "oob"); we enable none. */
  capabilities: string[];
}

export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: QmpTimestamp;
}

/** Raw messages as parsed from one line of the stream. */
export interface QmpGreetingMessage {
  QMP: { version: QmpVersion; capabilities: string[] };
}
export interface QmpReturnMessage {
  return: unknown;
  id?: unknown;
}
export interface QmpErrorMessage {
  error: { class: string; desc: string };
  id?: unknown;
}
export interface QmpEventMessage {
  event: string;
  data?: Record<string, unknown>;
  timestamp: QmpTimestamp;
}
export type QmpMessage = QmpGreetingMessage | QmpReturnMessage | QmpErrorMessage | QmpEventMessage;
