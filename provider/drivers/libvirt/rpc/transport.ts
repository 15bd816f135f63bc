// Opens the byte stream a libvirt URI designates.
import { readFileSync } from "node:fs";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { userInfo } from "node:os";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { LibvirtConnectionError } from "./errors";
import { DEFAULT_SSH_PORT, DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, type LibvirtUri } from "./uri";

/** An open byte stream to libvirtd. */
export interface Transport {
  stream: Duplex;
  /**
   * Present when reads land in one reused buffer instead of 'data' events:
   * the reader is called synchronously and must copy whatever it keeps.
   * Avoiding a fresh 64 KiB allocation per read keeps RSS flat under load.
   */
  attachReader?: (reader: (chunk: Buffer) => void) => void;
}

const READ_BUFFER_BYTES = 256 * 1024;

function reusedReadBuffer(): { onread: { buffer: Buffer; callback: (n: number, buf: Buffer) => boolean }; attach: (r: (c: Buffer) => void) => void } {
  let reader: ((chunk: Buffer) => void) | undefined;
  return {
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (n, buf) => {
        reader?.(buf.subarray(0, n));
        return true;
      },
    },
    attach: (r) => {
      reader = r;
    },
  };
}

export interface TransportOptions {
  connectTimeoutMs?: number;
  tls?: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string; rejectUnauthorized?: boolean };
  ssh?: { privateKey?: Buffer | string; passphrase?: string; agent?: string; knownHostsPath?: string; username?: string };
}

function waitConnected<T extends Socket | TLSSocket>(sock: T, event: string, what: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new LibvirtConnectionError(`timed out after ${timeoutMs} ms connecting to ${what}`));
    }, timeoutMs);
    sock.once(event, () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      resolve(sock);
    });
    sock.once("error", (err: Error) => {
      clearTimeout(timer);
      reject(new LibvirtConnectionError(`cannot connect to ${what}: ${err.message}`, { cause: err }));
    });
  });
}

function readFileOpt(path: string | undefined, what: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new LibvirtConnectionError(`cannot read TLS ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * After the TLS handshake libvirtd checks our certificate and sends a single
 * byte: 1 means accepted. A daemon that rejects the certificate may instead send
 * 0, or close the connection (libvirtd 9 does that), or fail the session with an alert.
 */
function awaitTlsCheckByte(sock: TLSSocket, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const rejected = `${what} rejected our TLS client certificate or address`;
    const settle = (error?: LibvirtConnectionError): void => {
      clearTimeout(timer);
      sock.off("readable", onReadable).off("error", onError).off("end", onClosed).off("close", onClosed);
      if (!error) {
        resolve();
        return;
      }
      sock.destroy();
      reject(error);
    };
    const timer = setTimeout(() => settle(new LibvirtConnectionError(`timed out waiting for TLS confirmation from ${what}`)), timeoutMs);
    const onReadable = (): void => {
      const b = sock.read(1) as Buffer | null;
      if (b) settle(b[0] === 1 ? undefined : new LibvirtConnectionError(rejected));
    };
    const onError = (e: Error & { code?: string }): void => {
      // A TLS alert is the daemon refusing us; anything else (a reset, a crash) is a lost connection.
      const alert = e.code?.startsWith("ERR_SSL") === true || /alert/i.test(e.message);
      const reason = alert ? rejected : `lost the connection to ${what} while waiting for its TLS confirmation`;
      settle(new LibvirtConnectionError(`${reason}: ${e.message}`, { cause: e }));
    };
    const onClosed = (): void => settle(new LibvirtConnectionError(`${rejected} (it closed the connection after the handshake)`));
    sock.on("readable", onReadable).once("error", onError).once("end", onClosed).once("close", onClosed);
  });
}

export async function openTransport(uri: LibvirtUri, o: TransportOptions = {}): Promise<Transport> {
  const timeoutMs = o.connectTimeoutMs ?? 15_000;
  switch (uri.transport) {
    case "unix": {
      const rb = reusedReadBuffer();
      const sock = netConnect({ path: uri.socketPath, onread: rb.onread });
      return { stream: await waitConnected(sock, "connect", `libvirt socket ${uri.socketPath}`, timeoutMs), attachReader: rb.attach };
    }
    case "tcp": {
      const port = uri.port ?? DEFAULT_TCP_PORT;
      const rb = reusedReadBuffer();
      const sock = netConnect({ host: uri.host, port, onread: rb.onread });
      sock.setNoDelay(true);
      return { stream: await waitConnected(sock, "connect", `libvirt at ${uri.host}:${port}`, timeoutMs), attachReader: rb.attach };
    }
    case "tls": {
      const port = uri.port ?? DEFAULT_TLS_PORT;
      const pki = uri.params.get("pkipath");
      const ca = o.tls?.ca ?? readFileOpt(pki ? `${pki}/cacert.pem` : "/etc/pki/CA/cacert.pem", "CA certificate");
      const cert = o.tls?.cert ?? readFileOpt(pki ? `${pki}/clientcert.pem` : "/etc/pki/libvirt/clientcert.pem", "client certificate");
      const key = o.tls?.key ?? readFileOpt(pki ? `${pki}/clientkey.pem` : "/etc/pki/libvirt/private/clientkey.pem", "client key");
      const noVerify = uri.params.get("no_verify") === "1";
      const what = `libvirt at ${uri.host}:${port} (TLS)`;
      const sock = tlsConnect({
        host: uri.host,
        port,
        // SNI carries host names only (RFC 6066); an address is verified against the certificate's IP SANs.
        servername: isIP(uri.host!) ? undefined : uri.host,
        ca,
        cert,
        key,
        rejectUnauthorized: o.tls?.rejectUnauthorized ?? !noVerify,
      });
      await waitConnected(sock, "secureConnect", what, timeoutMs);
      sock.setNoDelay(true);
      await awaitTlsCheckByte(sock, what, timeoutMs);
      return { stream: sock };
    }
    case "ssh": {
      const keyfile = uri.params.get("keyfile");
      let privateKey = o.ssh?.privateKey;
      if (privateKey === undefined && keyfile) {
        try {
          privateKey = readFileSync(keyfile);
        } catch (e) {
          throw new LibvirtConnectionError(`cannot read SSH key ${keyfile}: ${(e as Error).message}`, { cause: e });
        }
      }
      // ssh2 is loaded only for ssh:// URIs, keeping local connections light.
      const { openSshChannel } = await import("./ssh");
      const channel = await openSshChannel({
        host: uri.host as string,
        port: uri.port ?? DEFAULT_SSH_PORT,
        username: uri.user ?? o.ssh?.username ?? userInfo().username,
        socketPath: uri.socketPath,
        privateKey,
        passphrase: o.ssh?.passphrase,
        agent: o.ssh?.agent,
        knownHostsPath: o.ssh?.knownHostsPath ?? uri.params.get("known_hosts"),
        readyTimeoutMs: timeoutMs,
      });
      return { stream: channel };
    }
  }
}
