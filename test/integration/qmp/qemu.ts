/**
 * Starts throwaway bare QEMU processes (TCG, no disks) with a QMP unix socket
 * for the QMP client tests, and guarantees they are killed afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { QmpClient } from "../../../provider/drivers/libvirt/qmp";

const REPO = path.resolve(__dirname, "../../..");

export function ensureQemu(): string {
  const r = spawnSync("bash", [path.join(REPO, "test/testbeds/qemu-qmp.sh")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`qemu-qmp testbed failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").pop() ?? "qemu-system-x86_64";
}

export interface QemuProcess {
  proc: ChildProcess;
  qmpPath: string;
  stderr: () => string;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

export async function startQemu(binary: string, opts: { memMiB?: number; extra?: string[] } = {}): Promise<QemuProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nc-qmp-"));
  const qmpPath = path.join(dir, "qmp.sock");
  const args = [
    "-machine",
    "pc,accel=tcg",
    "-nodefaults",
    "-display",
    "none",
    "-m",
    String(opts.memMiB ?? 64),
    "-qmp",
    `unix:${qmpPath},server=on,wait=off`,
    ...(opts.extra ?? []),
  ];
  const proc = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  exited.then(
    () => fs.rmSync(dir, { recursive: true, force: true }),
    () => undefined,
  );
  const kill = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGCONT"); // a stopped process cannot act on SIGTERM
      proc.kill(signal);
    }
    await exited;
  };
  // QEMU binds the socket before starting the machine; wait for it to appear.
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(qmpPath)) {
    if (proc.exitCode !== null) throw new Error(`qemu exited early: ${err}`);
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`qemu QMP socket never appeared: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, qmpPath, stderr: () => err, exited, kill };
}

/**
 * QEMU creates the socket file a moment before it listens on it; on a loaded machine a connect
 * can land in between and be refused, so refused connects are retried for a few seconds.
 */
export async function connect(q: QemuProcess): Promise<QmpClient> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await QmpClient.connect(q.qmpPath, { connectTimeoutMs: 5_000, commandTimeoutMs: 10_000 });
    } catch (error) {
      if (Date.now() > until || !/ECONNREFUSED/.test(String((error as Error).message))) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A currently free loopback port for -incoming; the small reuse race is acceptable in tests. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}
