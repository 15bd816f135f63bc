import * as pulumi from "@pulumi/pulumi";
import type { HypervisorCapabilities } from "../provider/core/capabilities";
import type { HostCapabilities } from "../provider/core/driver";
import { DriverKind, parseHosts } from "../provider/core/hosts";
import { capabilitiesOf, openDriver } from "../provider/drivers/registry";

/** What a kind of hypervisor supports, known without contacting any host. */
export function getDriverCapabilities(kind: DriverKind): HypervisorCapabilities {
  return capabilitiesOf(DriverKind.parse(kind));
}

/**
 * Asks a configured host what it has: CPUs, NUMA nodes, hugepages, passthrough-capable
 * devices, plus its kind's capabilities. `host` names an entry of `novacron:hosts`.
 */
export async function getHostCapabilities(host: string): Promise<HostCapabilities> {
  const hosts = parseHosts(pulumi.runtime.getConfig("novacron:hosts") ?? process.env.NOVACRON_HOSTS, "novacron:hosts");
  const config = hosts[host];
  if (!config) throw new Error(`host "${host}" is not in the stack config novacron:hosts (configured: ${Object.keys(hosts).join(", ")})`);
  const driver = await openDriver(host, config);
  return driver.hostCapabilities();
}
