import { parseLibvirtUri } from "./rpc";

/** What a failed live migration was asked to do, in the user's terms. */
export interface MigrationAttempt {
  /** The host entry the VM was moving to. */
  target: string;
  /** The URI the source daemon dialled (the target's peerUri, else its uri). */
  destinationUri: string;
  /** The target entry's migrationUri, when it has one. */
  migrateUri?: string;
}

/** libvirt's wording when its own connection (control or migration data) to an address fails. */
const CONNECT_FAILED = /unable to connect to server at '([^']*)'|Name or service not known|Temporary failure in name resolution|No route to host/;

/**
 * The host setting that would fix a migration the source daemon could not connect for, or
 * undefined when the failure is not about reaching the target. Two connections can fail: the
 * source libvirtd dialling the target's daemon (its `peerUri`), and QEMU's data stream to the
 * target's `migrationUri` (without one, libvirt sends the data to the target machine's own
 * hostname, which the source often cannot resolve or reach).
 */
export function migrationFixHint(message: string, attempt: MigrationAttempt): string | undefined {
  const m = CONNECT_FAILED.exec(message);
  if (!m) return undefined;
  const entry = `the novacron:hosts entry of "${attempt.target}"`;
  if (m[1] !== undefined && dialsDaemon(m[1], attempt.destinationUri)) {
    return `the source host's libvirtd cannot reach ${attempt.destinationUri}; set peerUri in ${entry} to a libvirt URI the source host reaches (e.g. qemu+tcp://10.0.0.2/system)`;
  }
  if (attempt.migrateUri === undefined) {
    return `the source host cannot reach the target for the migration data (without migrationUri libvirt uses the target machine's own hostname); set migrationUri in ${entry} to an address the source host reaches (e.g. tcp://10.0.0.2)`;
  }
  return `the source host cannot reach migrationUri ${attempt.migrateUri} of ${entry}; set it to an address the source host reaches`;
}

/** Whether `hostPort` (libvirt's "host:port") is the daemon address of `uri`. */
function dialsDaemon(hostPort: string, uri: string): boolean {
  let parsed: ReturnType<typeof parseLibvirtUri>;
  try {
    parsed = parseLibvirtUri(uri);
  } catch {
    return false;
  }
  const cut = hostPort.lastIndexOf(":");
  const [host, port] = cut < 0 ? [hostPort, undefined] : [hostPort.slice(0, cut).replace(/^\[(.*)\]$/, "$1"), Number(hostPort.slice(cut + 1))];
  if (host !== parsed.host) return false;
  const daemonPort = parsed.port ?? (parsed.transport === "tcp" ? 16509 : parsed.transport === "tls" ? 16514 : parsed.transport === "ssh" ? 22 : undefined);
  return port === undefined || port === daemonPort;
}
