// The live host behind an entry: the pinned ESXi host, or the cluster's first
// one when DRS places VMs. Static kind capabilities are narrowed by what the
// host itself reports (vMotion licensed, vCPU ceiling).
import { no, type HypervisorCapabilities } from "../../core/capabilities";
import type { HostCapabilities } from "../../core/driver";
import { getProperties, lookup, moref, num, text, type MoRef, type VimClient } from "./soap";
import { VSPHERE_CAPABILITIES } from "./capabilities";
import type { VsphereSession } from "./session";
import { getHostCapabilities, listHostPciDevices } from "./vm";

export async function vsphereHostCapabilities(session: VsphereSession): Promise<HostCapabilities> {
  const client = await session.client();
  const host = (await session.esxiHost()) ?? (await firstHostOfCluster(client, session));
  const caps = await getHostCapabilities(client, host);
  const hw = await getProperties(client, host, ["hardware.cpuInfo.numCpuThreads", "hardware.memorySize", "config.product.fullName", "config.product.version"]);
  const capabilities: HypervisorCapabilities = {
    ...VSPHERE_CAPABILITIES,
    liveMigration: caps.vMotionSupported === false ? no(`host ${caps.name} reports vMotion unsupported (license or VMkernel setup)`) : VSPHERE_CAPABILITIES.liveMigration,
    storageMigration: caps.storageVMotionSupported === false ? no(`host ${caps.name} reports storage vMotion unsupported`) : VSPHERE_CAPABILITIES.storageMigration,
    limits: {
      ...VSPHERE_CAPABILITIES.limits,
      maxVcpus: caps.maxSupportedVcpus ?? VSPHERE_CAPABILITIES.limits.maxVcpus,
      maxConcurrentVms: caps.maxRunningVMs ?? VSPHERE_CAPABILITIES.limits.maxConcurrentVms,
    },
  };
  return {
    host: session.host,
    driver: "vsphere",
    hypervisor: text(hw.props.get("config.product.fullName")) ?? "VMware ESXi",
    version: text(hw.props.get("config.product.version")) ?? client.serviceContent.about.version,
    cpus: num(hw.props.get("hardware.cpuInfo.numCpuThreads")) ?? 0,
    memoryMiB: Math.floor((num(hw.props.get("hardware.memorySize")) ?? 0) / (1024 * 1024)),
    // ESXi sizes virtual NUMA and large pages itself.
    numaNodes: [],
    hugepages: [],
    // The host's PCI devices, for choosing a PassthroughDevice; driver is set where passthrough is active.
    devices: (await listHostPciDevices(client, host)).map((d) => ({
      name: d.id,
      address: d.id,
      vendor: d.vendorId,
      product: d.deviceId,
      class: d.classId,
      driver: d.passthruActive ? "passthrough" : undefined,
    })),
    capabilities,
  };
}

async function firstHostOfCluster(client: VimClient, session: VsphereSession): Promise<MoRef> {
  const cluster = session.config.cluster;
  if (!cluster) throw new Error(`host "${session.host}": set host or cluster in its novacron:hosts entry to report host capabilities`);
  const ref = await lookup(client, "cluster", cluster, session.datacenter);
  const first = moref((await getProperties(client, ref, ["host"])).props.get("host")?.children[0]);
  if (!first) throw new Error(`cluster ${cluster} has no hosts`);
  return first;
}
