import type * as pulumi from "@pulumi/pulumi";
import { hostSecrets, parseHosts, type Hosts } from "../core/hosts";
import { registerSecret } from "../core/redact";

/**
 * The hosts map lives in this module's state, filled by `configure()` from the stack config
 * (`novacron:hosts`, secrets already decrypted by the engine) or from NOVACRON_HOSTS. Nothing
 * here is ever serialized into the provider object, so credentials never reach state.
 */
let configured: Hosts | undefined;

export function configureHosts(config: pulumi.dynamic.Config): void {
  const fromStack = config.get("novacron:hosts");
  configured = fromStack !== undefined ? parseHosts(fromStack, "novacron:hosts") : parseHosts(process.env.NOVACRON_HOSTS, "NOVACRON_HOSTS");
  hostSecrets(configured).forEach(registerSecret);
}

export function currentHosts(): Hosts {
  if (configured === undefined) {
    configured = parseHosts(process.env.NOVACRON_HOSTS, "NOVACRON_HOSTS");
    hostSecrets(configured).forEach(registerSecret);
  }
  return configured;
}
