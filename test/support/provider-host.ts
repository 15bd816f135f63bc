import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import type { ResourceKind } from "../../provider/core/model";
import { providerText } from "../../provider/dynamic/providers";

type Props = Record<string, unknown>;
const REPO = path.resolve(__dirname, "../..");

/** Where the host runs and which provider it is handed; the defaults are this repository's. */
export interface HostOptions {
  /** The host's working directory; the engine starts it in the program's folder. */
  cwd?: string;
  /** Pulumi's `cmd/dynamic-provider` script to run, e.g. a user project's own copy. */
  entry?: string;
  /** The `__provider` text for a kind, e.g. one serialized from an installed package. */
  serialized?: (kind: ResourceKind) => Promise<string>;
}

/**
 * Drives Pulumi's real dynamic provider host (`@pulumi/pulumi/cmd/dynamic-provider`) over gRPC
 * with no CLI: the same process, serialization and request shapes the engine uses.
 */
export class ProviderHost {
  /**
   * The top-level properties the host's last answer (check, create, read, update) sent as Pulumi
   * secrets: the engine records exactly those encrypted in state. Results themselves are handed
   * back as the engine passes them on to the provider, secrets unwrapped.
   */
  lastSecretKeys: { inputs?: string[]; props?: string[] } = {};

  private constructor(
    private readonly child: ChildProcess,
    private readonly client: provrpc.ResourceProviderClient,
    readonly stderr: string[],
    private readonly providerText: (kind: ResourceKind) => Promise<string>,
  ) {}

  /** Starts the host and sends Configure, as the engine always does before anything else. */
  static async start(env: NodeJS.ProcessEnv = {}, config: Record<string, string> = {}, options: HostOptions = {}): Promise<ProviderHost> {
    const entry = options.entry ?? require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js");
    const node = path.join(REPO, "node_modules/.bin/node");
    // No engine address: progress lines then go to stderr, which the tests can read.
    const child = spawn(node, [entry, "no-engine"], {
      cwd: options.cwd,
      env: { ...process.env, PULUMI_NODEJS_PROJECT: "novacron-test", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
    const port = await new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`provider host exited with ${code}: ${stderr.join("")}`)));
      child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim().split("\n")[0]));
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const host = new ProviderHost(child, client, stderr, options.serialized ?? serializedProvider);
    await host.configure(config);
    return host;
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
  }

  /** Kills the host outright, as a crash or Ctrl-C mid-operation would. */
  kill(): void {
    this.child.kill("SIGKILL");
  }

  async configure(config: Record<string, string>): Promise<void> {
    const req = new provproto.ConfigureRequest();
    req.setArgs(Struct.fromJavaScript(config as never));
    await this.call("configure", req);
  }

  async check(kind: ResourceKind, olds: Props, news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
    const req = new provproto.CheckRequest();
    req.setUrn(urn(kind));
    req.setOlds(Struct.fromJavaScript(olds as never));
    req.setNews(Struct.fromJavaScript({ ...news, __provider: await this.providerText(kind) } as never));
    const resp = await this.call<provproto.CheckResponse>("check", req);
    const wire = (resp.getInputs()?.toJavaScript() ?? {}) as Props;
    this.lastSecretKeys = { inputs: secretKeysOf(wire) };
    return {
      inputs: engineView(wire) as Props,
      failures: resp.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(kind: ResourceKind, id: string, olds: Props, news: Props): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }> {
    const req = new provproto.DiffRequest();
    req.setId(id);
    req.setUrn(urn(kind));
    req.setOlds(Struct.fromJavaScript(olds as never));
    req.setNews(Struct.fromJavaScript({ ...news, __provider: await this.providerText(kind) } as never));
    const resp = await this.call<provproto.DiffResponse>("diff", req);
    return {
      changes: resp.getChanges() === provproto.DiffResponse.DiffChanges.DIFF_SOME,
      replaces: resp.getReplacesList(),
      deleteBeforeReplace: resp.getDeletebeforereplace(),
    };
  }

  async create(kind: ResourceKind, inputs: Props): Promise<{ id: string; outs: Props }> {
    const req = new provproto.CreateRequest();
    req.setUrn(urn(kind));
    req.setProperties(Struct.fromJavaScript({ ...inputs, __provider: await this.providerText(kind) } as never));
    const resp = await this.call<provproto.CreateResponse>("create", req);
    const wire = (resp.getProperties()?.toJavaScript() ?? {}) as Props;
    this.lastSecretKeys = { props: secretKeysOf(wire) };
    return { id: resp.getId(), outs: engineView(wire) as Props };
  }

  async read(kind: ResourceKind, id: string, props: Props): Promise<{ id: string; props: Props; inputs: Props }> {
    const req = new provproto.ReadRequest();
    req.setId(id);
    req.setUrn(urn(kind));
    req.setProperties(Struct.fromJavaScript({ ...props, __provider: await this.providerText(kind) } as never));
    const resp = await this.call<provproto.ReadResponse>("read", req);
    const wireProps = (resp.getProperties()?.toJavaScript() ?? {}) as Props;
    const wireInputs = (resp.getInputs()?.toJavaScript() ?? {}) as Props;
    this.lastSecretKeys = { props: secretKeysOf(wireProps), inputs: secretKeysOf(wireInputs) };
    return { id: resp.getId(), props: engineView(wireProps) as Props, inputs: engineView(wireInputs) as Props };
  }

  async update(kind: ResourceKind, id: string, olds: Props, news: Props): Promise<Props> {
    const req = new provproto.UpdateRequest();
    req.setId(id);
    req.setUrn(urn(kind));
    req.setOlds(Struct.fromJavaScript(olds as never));
    req.setNews(Struct.fromJavaScript({ ...news, __provider: await this.providerText(kind) } as never));
    const resp = await this.call<provproto.UpdateResponse>("update", req);
    const wire = (resp.getProperties()?.toJavaScript() ?? {}) as Props;
    this.lastSecretKeys = { props: secretKeysOf(wire) };
    return engineView(wire) as Props;
  }

  async delete(kind: ResourceKind, id: string, props: Props): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setId(id);
    req.setUrn(urn(kind));
    req.setProperties(Struct.fromJavaScript({ ...props, __provider: await this.providerText(kind) } as never));
    await this.call("delete", req);
  }

  /** check → create, the way the engine sequences a new resource. */
  async checkAndCreate(kind: ResourceKind, news: Props): Promise<{ id: string; outs: Props }> {
    const checked = await this.check(kind, {}, news);
    if (checked.failures.length > 0) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
    return this.create(kind, checked.inputs);
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    // The generated client's methods are untyped by name; each takes (request, callback).
    const fn = (this.client as unknown as Record<string, (r: unknown, cb: (e: grpc.ServiceError | null, v: T) => void) => void>)[method];
    return new Promise((resolve, reject) => fn.call(this.client, req, (err, value) => (err ? reject(providerError(err)) : resolve(value))));
  }
}

/** What the engine records when a create fails after the object was made (ErrorResourceInitFailed). */
/** Pulumi's wire marker of a secret value inside a Struct. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function isSecretWrapper(value: unknown): value is { value: unknown } {
  return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
}

/**
 * What the engine hands back to a dynamic provider: it records secret-wrapped outputs as
 * secrets, and sends them to a provider that does not accept secrets (dynamic providers
 * never do) as plain values. Tests pass the properties on the way the engine would.
 */
export function engineView(value: unknown): unknown {
  if (isSecretWrapper(value)) return engineView(value.value);
  if (Array.isArray(value)) return value.map(engineView);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, engineView(v)]));
  return value;
}

function secretKeysOf(props: Props): string[] {
  return Object.entries(props)
    .filter(([, v]) => isSecretWrapper(v))
    .map(([k]) => k);
}

export interface ResourceInitFailure {
  id: string;
  /** As the engine passes them on: secret values unwrapped. */
  properties: Props;
  /** Top-level properties that came on the wire as Pulumi secrets (recorded encrypted in state). */
  secretKeys: string[];
  reasons: string[];
}

/** A failed provider call; `initFailure` is set when the provider host packed ErrorResourceInitFailed into the status details. */
export class ProviderCallError extends Error {
  constructor(
    message: string,
    readonly initFailure?: ResourceInitFailure,
  ) {
    super(message);
    this.name = "ProviderCallError";
  }
}

function providerError(err: grpc.ServiceError): ProviderCallError {
  // The host sends the details only as grpc-status-details-bin metadata (a google.rpc.Status),
  // which is also how the Go engine reads them.
  const [raw] = err.metadata?.get("grpc-status-details-bin") ?? [];
  let initFailure: ResourceInitFailure | undefined;
  if (raw !== undefined) {
    const status = statusproto.Status.deserializeBinary(typeof raw === "string" ? Buffer.from(raw, "base64") : raw);
    for (const detail of status.getDetailsList()) {
      if (detail.getTypeName() !== "pulumirpc.ErrorResourceInitFailed") continue;
      const failed = provproto.ErrorResourceInitFailed.deserializeBinary(detail.getValue_asU8());
      const wire = (failed.getProperties()?.toJavaScript() ?? {}) as Props;
      initFailure = { id: failed.getId(), properties: engineView(wire) as Props, secretKeys: secretKeysOf(wire), reasons: failed.getReasonsList() };
    }
  }
  return new ProviderCallError(err.details || err.message, initFailure);
}

/** The `__provider` text exactly as a Pulumi program would record it in state. */
export async function serializedProvider(kind: ResourceKind): Promise<string> {
  return providerText(kind);
}

function urn(kind: ResourceKind): string {
  return `urn:pulumi:test::novacron-test::pulumi-nodejs:dynamic/novacron:${kind}::${kind.toLowerCase()}`;
}
