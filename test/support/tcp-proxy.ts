import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP relay in front of a real server (vcsim here) for fault tests: it can slow what clients
 * send to a given rate, so a disk upload lasts long enough to kill the provider in the middle
 * of it, and it can cut any connection that has sent more than a given number of bytes, which
 * breaks a disk upload for real (TLS and HTTP see a reset connection) while the small SOAP
 * calls on other connections go through. Nothing of the protocol is simulated.
 */
export class TcpProxy {
  /** Client→server bytes per second for each connection; undefined: no limit. */
  rate: number | undefined;
  /** A connection that has sent more than this many bytes is reset; undefined: never. */
  cutAfter: number | undefined;
  /** Connections reset by `cutAfter` so far. */
  cuts = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.relay(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  private relay(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    let sent = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (this.cutAfter !== undefined && sent > this.cutAfter) {
        this.cuts++;
        client.resetAndDestroy();
        end();
        return;
      }
      upstream.write(chunk);
      if (this.rate !== undefined) {
        client.pause();
        setTimeout(() => client.resume(), (chunk.length / this.rate) * 1000);
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
