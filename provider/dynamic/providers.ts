import type * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "../core/model";

/**
 * The provider objects Pulumi serializes into state. They capture a few strings and one small
 * function: no clients, sockets, schemas or credentials. Every call loads the runtime from disk,
 * so the code that runs is the code installed, never a stale copy from state.
 *
 * Where the runtime is found (docs/decisions/0016-ship-compiled-js.md):
 * - compiled (an installed package, or `npm run compile` in the repository): first by package
 *   name, resolved from the provider host's working directory (the project), so a state written
 *   on another machine or in another checkout still finds the project's own installed copy; then
 *   by the absolute path this module was loaded from. Never ts-node.
 * - from TypeScript source (development in this repository): by absolute path, registering
 *   ts-node in the provider host first, because the host is a plain Node process.
 */
const RUNTIME = `${__dirname}/runtime`;
const FROM_SOURCE = __filename.endsWith(".ts");
const TSCONFIG = FROM_SOURCE ? `${__dirname}/../../tsconfig.json` : "";
/** The package's `exports` entry for the runtime; see package.json. */
const PACKAGE_RUNTIME = "novacron/provider-runtime";

type Runtime = typeof import("./runtime");

interface RuntimeLocation {
  path: string;
  fromSource: boolean;
  tsconfig: string;
  packageEntry: string;
}

function loadRuntime(at: RuntimeLocation): Runtime {
  if (at.fromSource) {
    if (!require.extensions[".ts"]) {
      (require("ts-node") as { register(opts: object): void }).register({ transpileOnly: true, project: at.tsconfig });
    }
    return require(at.path) as Runtime;
  }
  let entry = at.path;
  try {
    entry = require.resolve(at.packageEntry, { paths: [process.cwd()] }); // cached by Node after the first call
  } catch {
    // not installed where the host runs: the compiled tree inside this repository
  }
  return require(entry) as Runtime;
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
  // Plain values: Pulumi captures them by value into the serialized provider.
  const at: RuntimeLocation = { path: RUNTIME, fromSource: FROM_SOURCE, tsconfig: TSCONFIG, packageEntry: PACKAGE_RUNTIME };
  const load = loadRuntime;
  return {
    configure: async (req) => load(at).configure(req),
    check: async (olds, news) => load(at).check(kind, olds, news),
    diff: async (id, olds, news) => load(at).diff(kind, id, olds, news),
    create: async (inputs) => load(at).create(kind, inputs),
    read: async (id, props) => load(at).read(kind, id, props ?? {}),
    update: async (id, olds, news) => load(at).update(kind, id, olds, news),
    delete: async (id, props) => load(at).remove(kind, id, props),
  };
}
