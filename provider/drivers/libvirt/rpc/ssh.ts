// SSH transport: an OpenSSH stream-local forward to the remote daemon's unix
// socket (what `ssh -W`/netcat does for libvirt, without a remote helper).
// The host key must already be in known_hosts: an unknown or changed key is
// refused before any credential is offered.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig } from "ssh2";
import { HostKeyVerificationError, LibvirtConnectionError } from "./errors";
import { checkKnownHosts, fingerprintSha256, knownHostsName } from "./knownHosts";

export interface SshOptions {
  host: string;
  port: number;
  username: string;
  socketPath: string;
  /** Private key contents; otherwise the agent is used. */
  privateKey?: Buffer | string;
  passphrase?: string;
  agent?: string;
  knownHostsPath?: string;
  readyTimeoutMs?: number;
}

export function defaultKnownHostsPath(): string {
  return `${homedir()}/.ssh/known_hosts`;
}

export function openSshChannel(o: SshOptions): Promise<Duplex> {
  const knownHostsPath = o.knownHostsPath ?? defaultKnownHostsPath();
  let knownHosts: string;
  try {
    knownHosts = readFileSync(knownHostsPath, "utf8");
  } catch (e) {
    return Promise.reject(new LibvirtConnectionError(`cannot read known_hosts file ${knownHostsPath}: ${(e as Error).message}`, { cause: e }));
  }
  const client = new Client();
  let hostKeyError: HostKeyVerificationError | undefined;
  const label = knownHostsName(o.host, o.port);

  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(e);
    };
    const cfg: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      readyTimeout: o.readyTimeoutMs ?? 15_000,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer): boolean => {
        const fp = fingerprintSha256(key);
        const status = checkKnownHosts(knownHosts, o.host, o.port, key);
        if (status === "match") return true;
        const why =
          status === "unknown"
            ? `host ${label} is not in ${knownHostsPath}`
            : status === "revoked"
              ? `host key of ${label} is marked @revoked in ${knownHostsPath}`
              : `HOST KEY FOR ${label} HAS CHANGED (does not match ${knownHostsPath}); possible man-in-the-middle`;
        hostKeyError = new HostKeyVerificationError(`SSH host key verification failed: ${why}; server offered ${fp}`, label, fp);
        return false;
      },
    };
    if (o.privateKey !== undefined) {
      cfg.privateKey = o.privateKey;
      if (o.passphrase !== undefined) cfg.passphrase = o.passphrase;
    } else {
      cfg.agent = o.agent ?? process.env.SSH_AUTH_SOCK;
      if (!cfg.agent) {
        fail(new LibvirtConnectionError(`no SSH key given and no SSH agent (SSH_AUTH_SOCK) for ${label}`));
        return;
      }
    }
    client.on("error", (err: Error) => {
      fail(hostKeyError ?? new LibvirtConnectionError(`SSH connection to ${label} failed: ${err.message}`, { cause: err }));
    });
    client.on("close", () => fail(hostKeyError ?? new LibvirtConnectionError(`SSH connection to ${label} closed`)));
    client.on("ready", () => {
      client.openssh_forwardOutStreamLocal(o.socketPath, (err, channel) => {
        if (err) {
          fail(new LibvirtConnectionError(`SSH host ${label} refused forwarding to ${o.socketPath}: ${err.message}`, { cause: err }));
          return;
        }
        settled = true;
        // The SSH session exists only for this channel.
        channel.on("close", () => client.end());
        resolve(channel);
      });
    });
    client.connect(cfg);
  });
}
