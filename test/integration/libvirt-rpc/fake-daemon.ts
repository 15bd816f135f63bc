// A scripted stand-in for libvirtd, used only to inject faults the real
// daemon never produces (bad frames, silence, odd reply order). It answers the
// connect handshake the way libvirtd does and hands every other call to the
// test's behaviour.
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { FrameDecoder, MessageStatus, MessageType, REMOTE_PROGRAM, buildFrame, type Frame } from "../../../provider/drivers/libvirt/rpc/packet";
import type { XdrWriter } from "../../../provider/drivers/libvirt/rpc/xdr";

const PROC = { OPEN: 1, CLOSE: 2, FEATURE: 60, AUTH_LIST: 66 } as const;

export type Behaviour = (sock: Duplex, f: Frame) => void;

export function reply(sock: Duplex, f: Frame, body?: (w: XdrWriter) => void): void {
  sock.write(buildFrame({ ...f.header, type: MessageType.REPLY, status: MessageStatus.OK }, body));
}

export function hostnameReply(sock: Duplex, f: Frame, name: string): void {
  reply(sock, f, (w) => w.string(name));
}

/** Answers the connect handshake like libvirtd, then defers to `behaviour`. */
export function serveConnection(sock: Duplex, behaviour: Behaviour, keepalive = false): void {
  const dec = new FrameDecoder();
  sock.on("error", () => undefined);
  sock.on("data", (chunk: Buffer) => {
    for (const f of dec.push(chunk)) {
      if (f.header.prog !== REMOTE_PROGRAM) continue; // ignore keepalive: this peer is deaf
      switch (f.header.proc) {
        case PROC.AUTH_LIST:
          reply(sock, f, (w) => {
            w.uint(1);
            w.int(0);
          });
          break;
        case PROC.FEATURE:
          reply(sock, f, (w) => w.int(keepalive ? 1 : 0));
          break;
        case PROC.OPEN:
        case PROC.CLOSE:
          reply(sock, f);
          break;
        default:
          behaviour(sock, f);
      }
    }
  });
}

export function fakeDaemon(path: string, behaviour: Behaviour, keepalive = false): Promise<Server> {
  const srv = createServer((sock: Socket) => serveConnection(sock, behaviour, keepalive));
  return new Promise((resolve) => srv.listen(path, () => resolve(srv)));
}
