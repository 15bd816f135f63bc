"use strict";
/*
 * Runs inside a user project (outside the repository) against the installed package, with
 * Node's TypeScript stripping off: what a program's `require` loads, and the `__provider`
 * text Pulumi's own serializer records for the installed provider objects. Prints JSON.
 * Plain JavaScript on purpose: nothing here may need a compiler.
 */
const path = require("node:path");

const project = process.cwd();
const novacronFiles = () =>
  Object.keys(require.cache)
    .filter((f) => f.includes(`${path.sep}node_modules${path.sep}novacron${path.sep}`))
    .map((f) => f.slice(f.indexOf(`${path.sep}novacron${path.sep}`) + "/novacron/".length));
const loaded = (pattern) => Object.keys(require.cache).filter((f) => pattern.test(f));
const resolvable = (name) => {
  try {
    require.resolve(name, { paths: [project] });
    return true;
  } catch {
    return false;
  }
};

async function main() {
  require("@pulumi/pulumi");
  const zodBefore = loaded(/node_modules[\\/]zod[\\/]/).length;
  const nc = require("novacron");
  const afterImport = { files: novacronFiles(), zodLoaded: loaded(/node_modules[\\/]zod[\\/]/).length > zodBefore };

  const libvirt = nc.getDriverCapabilities("libvirt");
  const afterLibvirtCapabilities = {
    product: libvirt.product,
    files: novacronFiles(),
    vsphereOrUndici: loaded(/vsphere|node_modules[\\/]undici[\\/]/),
  };

  const policy = require("novacron/policy");
  // The `__provider` text the installed package's resources record in state.
  const { providerText } = require(path.join(path.dirname(require.resolve("novacron/package.json")), "dist/provider/dynamic/providers.js"));
  const providers = {};
  for (const kind of ["VirtualMachine", "Network"]) providers[kind] = providerText(kind);
  process.stdout.write(
    JSON.stringify({
      main: require.resolve("novacron"),
      policyEntry: require.resolve("novacron/policy"),
      runtimeEntry: require.resolve("novacron/provider-runtime"),
      exports: Object.keys(nc).sort(),
      policyExports: Object.keys(policy).sort(),
      afterImport,
      afterLibvirtCapabilities,
      typescriptInstalled: { "ts-node": resolvable("ts-node"), typescript: resolvable("typescript") },
      stripTypes: Boolean(process.features.typescript),
      providers,
    }),
  );
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
