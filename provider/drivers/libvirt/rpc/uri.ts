// libvirt connection URIs: driver[+transport]://[user@][host][:port]/path[?query]
// Parsed the way libvirt's remote driver does, including what it sends to the
// daemon as the connection name: transport, user, host and port stripped,
// client-side query parameters removed (qemu+ssh://root@h/system -> qemu:///system).

export type Transport = "unix" | "tcp" | "tls" | "ssh";

export interface LibvirtUri {
  readonly raw: string;
  readonly driver: string;
  readonly transport: Transport;
  readonly user?: string;
  readonly host?: string;
  readonly port?: number;
  readonly path: string;
  readonly params: ReadonlyMap<string, string>;
  /** The name passed in connect-open. */
  readonly serverName: string;
  /** Daemon socket: local for unix, on the remote host for ssh. */
  readonly socketPath: string;
}

export const SYSTEM_SOCKET = "/var/run/libvirt/libvirt-sock";
export const DEFAULT_TCP_PORT = 16509;
export const DEFAULT_TLS_PORT = 16514;
export const DEFAULT_SSH_PORT = 22;

// Query parameters consumed by the client side (libvirt's remote driver set
// plus ours); everything else is forwarded to the daemon in the name.
const CLIENT_PARAMS = new Set([
  "name",
  "command",
  "socket",
  "auth",
  "netcat",
  "keyfile",
  "sshauth",
  "no_verify",
  "no_tty",
  "pkipath",
  "known_hosts",
  "known_hosts_verify",
  "tls_priority",
  "mode",
  "proxy",
  "tls",
]);

const URI_RE = /^([A-Za-z][A-Za-z0-9.-]*)(?:\+([A-Za-z0-9]+))?:\/\/(?:([^@/?]*)@)?(\[[^\]]*\]|[^:/?]*)(?::(\d+))?(\/[^?]*)?(?:\?(.*))?$/;

export class LibvirtUriError extends Error {
  override readonly name: string = "LibvirtUriError";
}

export function parseLibvirtUri(raw: string): LibvirtUri {
  const m = URI_RE.exec(raw.trim());
  if (!m) throw new LibvirtUriError(`not a libvirt URI: ${raw}`);
  const [, driver, transportRaw, userRaw, hostRaw, portRaw, pathRaw, query] = m;
  const host = hostRaw ? hostRaw.replace(/^\[(.*)\]$/, "$1") : undefined;
  let transport: Transport;
  if (!transportRaw) {
    // libvirt's default: remote hosts use TLS, no host means the local socket.
    transport = host ? "tls" : "unix";
  } else if (transportRaw === "unix" || transportRaw === "tcp" || transportRaw === "tls" || transportRaw === "ssh") {
    transport = transportRaw;
  } else {
    throw new LibvirtUriError(`unsupported libvirt transport "${transportRaw}" in ${raw}`);
  }
  if (transport === "unix" && host) throw new LibvirtUriError(`unix transport cannot name a host: ${raw}`);
  if ((transport === "tcp" || transport === "tls" || transport === "ssh") && !host) {
    throw new LibvirtUriError(`${transport} transport needs a host: ${raw}`);
  }
  const port = portRaw ? Number(portRaw) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new LibvirtUriError(`bad port in ${raw}`);

  const params = new Map<string, string>();
  const forwarded: string[] = [];
  if (query) {
    for (const part of query.split("&")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      const v = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " "));
      params.set(k, v);
      if (!CLIENT_PARAMS.has(k)) forwarded.push(part);
    }
  }
  const path = pathRaw ?? "";
  const serverName = params.get("name") ?? `${driver}://${path}${forwarded.length ? `?${forwarded.join("&")}` : ""}`;
  const socketPath = params.get("socket") ?? defaultSocket(path, transport);
  return {
    raw,
    driver,
    transport,
    user: userRaw ? decodeURIComponent(userRaw) : undefined,
    host,
    port,
    path,
    params,
    serverName,
    socketPath,
  };
}

function defaultSocket(path: string, transport: Transport): string {
  // Session daemons live in the user's runtime dir; only meaningful locally.
  if (transport === "unix" && path === "/session" && process.getuid && process.getuid() !== 0) {
    const runtime = process.env.XDG_RUNTIME_DIR ?? `${process.env.HOME ?? ""}/.cache`;
    return `${runtime}/libvirt/libvirt-sock`;
  }
  return SYSTEM_SOCKET;
}
