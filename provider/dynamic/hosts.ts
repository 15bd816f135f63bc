import type * as pulumi from "@pulumi/pulumi";
import { parseHosts, type Hosts } from "../core/hosts";

/**
 * The hosts map lives in this module's state, filled by `configure()` from the stack config
 * (`novacron:hosts`, secrets already decrypted by the engine) or from NOVACRON_HOSTS. Nothing
 * here is ever serialized into the provider object, so credentials never reach state.
 */
let configured: Hosts | undefined;

export function configureHosts(config: pulumi.dynamic.Config): void {
  const fromStack = config.get("novacron:hosts");
  configured = fromStack !== undefined ? parseHosts(fromStack, "novacron:hosts") : parseHosts(process.env.NOVACRON_HOSTS, "NOVACRON_HOSTS");
}

export function currentHosts(): Hosts {
  configured ??= parseHosts(process.env.NOVACRON_HOSTS, "NOVACRON_HOSTS");
  return configured;
}
