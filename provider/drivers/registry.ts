import type { HypervisorCapabilities } from "../core/capabilities";
import type { Driver } from "../core/driver";
import type { DriverKind, HostConfig } from "../core/hosts";
import { HYPERV_CAPABILITIES } from "./hyperv/capabilities";
import { LIBVIRT_CAPABILITIES } from "./libvirt/capabilities";
import { PROXMOX_CAPABILITIES } from "./proxmox/capabilities";
import { VSPHERE_CAPABILITIES } from "./vsphere/capabilities";
import { XCPNG_CAPABILITIES } from "./xcpng/capabilities";

const CAPABILITIES: Record<DriverKind, HypervisorCapabilities> = {
  libvirt: LIBVIRT_CAPABILITIES,
  vsphere: VSPHERE_CAPABILITIES,
  proxmox: PROXMOX_CAPABILITIES,
  hyperv: HYPERV_CAPABILITIES,
  xcpng: XCPNG_CAPABILITIES,
};

/** Static capabilities: no host contacted, so `pulumi preview` can refuse a spec offline. */
export function capabilitiesOf(kind: DriverKind): HypervisorCapabilities {
  return CAPABILITIES[kind];
}

type DriverFactory = (host: string, config: HostConfig) => Promise<Driver>;

/**
 * Driver modules are loaded only when a host of that kind is used, so a stack on KVM never
 * loads the vSphere client. A kind without a factory yet says so plainly.
 */
const FACTORIES: Partial<Record<DriverKind, () => DriverFactory>> = {
  libvirt: () => (require("./libvirt/driver") as { openLibvirtDriver: DriverFactory }).openLibvirtDriver,
  vsphere: () => (require("./vsphere/driver") as { openVsphereDriver: DriverFactory }).openVsphereDriver,
  proxmox: () => (require("./proxmox/driver") as { openProxmoxDriver: DriverFactory }).openProxmoxDriver,
};

const open = new Map<string, Promise<Driver>>();

/** One driver per host per process: connections and sessions are shared by every resource. */
export function openDriver(host: string, config: HostConfig): Promise<Driver> {
  const key = `${host}\u0000${JSON.stringify(config)}`;
  let driver = open.get(key);
  if (!driver) {
    const factory = FACTORIES[config.driver];
    if (!factory) {
      return Promise.reject(new Error(`host "${host}": the ${CAPABILITIES[config.driver].product} driver can validate specs but cannot manage resources yet`));
    }
    driver = factory()(host, config);
    driver.catch(() => open.delete(key));
    open.set(key, driver);
  }
  return driver;
}

export async function closeAllDrivers(): Promise<void> {
  const drivers = [...open.values()];
  open.clear();
  await Promise.allSettled(drivers.map(async (d) => (await d).close()));
}
