import { QmpError, QmpProtocolError, type QmpTransport } from "./qmp";
import type { DomainRef, LibvirtClient } from "./rpc";

/** virDomainQemuMonitorCommandFlags: 0 is QMP (1 would be the human monitor). */
const QMP = 0;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * QMP to a libvirt-managed QEMU through libvirt's QEMU program (virDomainQemuMonitorCommand):
 * the same typed helpers as for a bare QEMU socket, but over the existing libvirt connection,
 * so it works against remote hosts and needs no access to the monitor socket, which libvirt
 * holds exclusively. libvirt marks a domain driven this way as tainted ("custom-monitor") and
 * does not track state changed behind its back: use it for queries, not for changes libvirt
 * manages. Events do not come through this channel.
 */
export class LibvirtQmpTransport implements QmpTransport {
  constructor(
    private readonly client: LibvirtClient,
    private readonly dom: DomainRef,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /** Resolves with the command's `return` value; rejects with QmpError when QEMU refuses it. */
  async execute(command: string, args?: object): Promise<unknown> {
    // No `id`: libvirt numbers the commands it forwards itself.
    const cmd = JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args });
    const { result } = await this.client.call("qemuDomainMonitorCommand", { dom: this.dom, cmd, flags: QMP }, { timeoutMs: this.timeoutMs, label: `QMP ${command}` });
    return replyValue(command, result);
  }
}

/** libvirt hands back QEMU's reply text as is, errors included: the error is ours to raise. */
function replyValue(command: string, text: string): unknown {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new QmpProtocolError(`${command}: libvirt returned a reply that is not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) {
    throw new QmpProtocolError(`${command}: expected a QMP reply object, got ${text.slice(0, 200)}`);
  }
  const record = reply as Record<string, unknown>;
  if (typeof record.error === "object" && record.error !== null) {
    const error = record.error as Record<string, unknown>;
    throw new QmpError(command, String(error.class ?? "GenericError"), String(error.desc ?? ""));
  }
  if (!("return" in record)) throw new QmpProtocolError(`${command}: the reply has neither "return" nor "error": ${text.slice(0, 200)}`);
  return record.return;
}
