import type * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "../core/model";

/**
 * The provider recorded in state with every resource. It holds a few strings and one small
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

/**
 * The `__provider` text recorded with every resource: a module whose `handler()` the dynamic
 * provider host calls to get the provider object. Written from `handler`'s own source instead of
 * by Pulumi's closure serializer, which wraps each captured function in ~250 bytes of scaffolding:
 * its text was 3.2 KB, recorded twice per resource (inputs and outputs) and carried by every
 * check, diff and engine event, most of a VM's 9 KB of state (docs/decisions/0025).
 */
export function providerText(kind: ResourceKind): string {
  return `exports.handler = () => (${handler.toString()})(${JSON.stringify(here())}, ${JSON.stringify(kind)});\n`;
}

function here(): RuntimeLocation {
  return { path: RUNTIME, fromSource: FROM_SOURCE, tsconfig: TSCONFIG, packageEntry: PACKAGE_RUNTIME };
}

/**
 * The provider object. Self-contained — no free variables but `require` and `process` — because
 * providerText turns its source into the recorded module.
 */
function handler(at: RuntimeLocation, kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  const load = (): Runtime => {
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
  };
  return {
    configure: async (req) => load().configure(req),
    check: async (olds, news) => load().check(kind, olds, news),
    diff: async (id, olds, news) => load().diff(kind, id, olds, news),
    create: async (inputs) => load().create(kind, inputs),
    read: async (id, props) => load().read(kind, id, props ?? {}),
    update: async (id, olds, news) => load().update(kind, id, olds, news),
    delete: async (id, props) => load().remove(kind, id, props),
  };
}
