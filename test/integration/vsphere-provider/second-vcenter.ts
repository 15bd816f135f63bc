// A second, independent simulated vCenter (its own process and inventory) for
// the cross-vCenter case, from the binary vcsim.sh built. Stopped by its pid.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { vcsim } from "../vsphere/testbed";

export interface SecondVcenter {
  readonly url: string;
  readonly caFile: string;
  stop(): Promise<void>;
}

const REPO = path.resolve(__dirname, "../../..");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export async function secondVcenter(): Promise<SecondVcenter> {
  const first = vcsim(); // builds the binary when needed
  const binary = path.join(process.env.NOVACRON_CACHE ?? path.join(REPO, ".cache"), "vcsim", "vcsim");
  const dir = mkdtempSync(path.join(tmpdir(), "nc-vc2-"));
  const caFile = path.join(dir, "cert.pem");
  const port = await freePort();
  const child = spawn(binary, ["-l", `127.0.0.1:${port}`, "-cert-out", caFile], {
    env: { ...process.env, VCSIM_USERNAME: first.username, VCSIM_PASSWORD: first.password },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /url=(\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`second vcsim exited with ${code}`)));
  });
  return {
    url,
    caFile,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
