import { generatePackageSchema } from "../core/schema/generate";
import { DriverKind } from "../core/hosts";
import { capabilitiesOf } from "../drivers/registry";

/**
 * The package schema of the NovaCron resources, from the model and every driver's rules (core
 * may not import the drivers, so the tables are handed in here). `npm run schema` writes it
 * to schema.json.
 */
export function packageSchema(version: string): Record<string, unknown> {
  return generatePackageSchema(version, DriverKind.options.map(capabilitiesOf));
}

if (require.main === module) {
  const pkg = require("../../package.json") as { version: string };
  process.stdout.write(`${JSON.stringify(packageSchema(pkg.version), null, 2)}\n`);
}
