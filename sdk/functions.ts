import * as pulumi from "@pulumi/pulumi";
import type { Driver } from "../provider/core/driver";
import type { DriverKind, HostCapabilities, HypervisorCapabilities, VmMetrics } from "./model-types";

/*
 * The host model (zod) and the driver registry are required when a function is called, not
 * when the sdk is imported: a program that only declares resources never loads them.
 */
type Hosts = typeof import("../provider/core/hosts");
type Registry = typeof import("../provider/drivers/registry");
const hostsModule = () => require("../provider/core/hosts") as Hosts;
const registry = () => require("../provider/drivers/registry") as Registry;

/** What a kind of hypervisor supports, known without contacting any host. */
export function getDriverCapabilities(kind: DriverKind): HypervisorCapabilities {
  return registry().capabilitiesOf(hostsModule().DriverKind.parse(kind));
}

/**
 * Asks a configured host what it has: CPUs, NUMA nodes, hugepages, passthrough-capable
 * devices, plus its kind's capabilities. `host` names an entry of `novacron:hosts`.
 */
export async function getHostCapabilities(host: string): Promise<HostCapabilities> {
  return (await openConfiguredHost(host)).hostCapabilities();
}

/**
 * Cumulative counters (CPU time, vCPUs, balloon, disk and NIC I/O) of every VM on a KVM/QEMU
 * host, from one call; poll twice and divide for rates.
 */
export async function getVmMetrics(host: string): Promise<VmMetrics[]> {
  const driver = await openConfiguredHost(host);
  if (!driver.collectMetrics) throw new Error(`host "${host}" is a ${driver.kind} host; VM metrics are available on libvirt hosts`);
  return driver.collectMetrics();
}

async function openConfiguredHost(host: string): Promise<Driver> {
  const hosts = hostsModule().parseHosts(pulumi.runtime.getConfig("novacron:hosts") ?? process.env.NOVACRON_HOSTS, "novacron:hosts");
  const config = hosts[host];
  if (!config) throw new Error(`host "${host}" is not in the stack config novacron:hosts (configured: ${Object.keys(hosts).join(", ")})`);
  return registry().openDriver(host, config);
}
