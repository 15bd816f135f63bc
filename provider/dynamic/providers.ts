import type * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "../core/model";

/**
 * The provider objects Pulumi serializes into state. They capture two strings and one small
 * function: no clients, sockets, schemas or credentials. Every call loads `runtime` from disk.
 */
const RUNTIME = `${__dirname}/runtime`;
const TSCONFIG = `${__dirname}/../../tsconfig.json`;

type Runtime = typeof import("./runtime");

function loadRuntime(runtime: string, tsconfig: string): Runtime {
  // The provider host is a plain Node process: teach it TypeScript when running from source.
  // Checked in this order because a failed resolve costs file-system probes on every call.
  if (!require.extensions[".ts"]) {
    try {
      require.resolve(`${runtime}.js`);
    } catch {
      (require("ts-node") as { register(opts: object): void }).register({ transpileOnly: true, project: tsconfig });
    }
  }
  return require(runtime) as Runtime;
}

const cache = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** One provider object per kind: Pulumi caches serialization by object identity. */
export function providerFor(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let provider = cache.get(kind);
  if (!provider) {
    provider = makeProvider(kind);
    cache.set(kind, provider);
  }
  return provider;
}

function makeProvider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  const runtime = RUNTIME;
  const tsconfig = TSCONFIG;
  const load = loadRuntime;
  return {
    configure: async (req) => load(runtime, tsconfig).configure(req),
    check: async (olds, news) => load(runtime, tsconfig).check(kind, olds, news),
    diff: async (id, olds, news) => load(runtime, tsconfig).diff(kind, id, olds, news),
    create: async (inputs) => load(runtime, tsconfig).create(kind, inputs),
    read: async (id, props) => load(runtime, tsconfig).read(kind, id, props ?? {}),
    update: async (id, olds, news) => load(runtime, tsconfig).update(kind, id, olds, news),
    delete: async (id, props) => load(runtime, tsconfig).remove(kind, id, props),
  };
}
