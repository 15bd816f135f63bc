import type { Progress } from "../core/driver";
import { logLine } from "../core/redact";

/**
 * Progress lines reach the Pulumi CLI through the engine's Log RPC: the dynamic provider host
 * is started with the engine's address as its first argument. Without an engine (tests, the
 * engine-less harness) lines go to stderr.
 */
interface EngineLog {
  log(request: unknown, callback: (err: Error | null) => void): void;
}

let engine: EngineLog | null | undefined;

function engineClient(): EngineLog | null {
  if (engine !== undefined) return engine;
  engine = null;
  const address = process.argv[2];
  if (!address || !/^[\w.-]+:\d+$/.test(address)) return engine;
  try {
    // Loaded lazily: only the provider host process needs gRPC for this.
    const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
    const services = require("@pulumi/pulumi/proto/engine_grpc_pb") as { EngineClient: new (addr: string, creds: unknown) => EngineLog };
    engine = new services.EngineClient(address, grpc.credentials.createInsecure());
  } catch {
    engine = null;
  }
  return engine;
}

export function progressFor(resource: string): Progress {
  return (message: string) => {
    // Host credentials redacted, control characters shown escaped (no terminal injection).
    const line = logLine(`${resource}: ${message}`);
    const client = engineClient();
    if (!client) {
      process.stderr.write(`novacron ${line}\n`);
      return;
    }
    const proto = require("@pulumi/pulumi/proto/engine_pb") as typeof import("@pulumi/pulumi/proto/engine_pb");
    const request = new proto.LogRequest();
    request.setSeverity(proto.LogSeverity.INFO);
    request.setMessage(line);
    client.log(request, () => undefined);
  };
}
