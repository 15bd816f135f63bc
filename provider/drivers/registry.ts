import type { HypervisorCapabilities } from "../core/capabilities";
import type { Driver } from "../core/driver";
import type { DriverKind, HostConfig } from "../core/hosts";

/**
 * Each kind's capabilities module, required on first use: the libvirt and vSphere tables pull in
 * their translation checks (libvirt's XML builders, vSphere's translation), so a stack on KVM
 * never loads vSphere code, and a program process that only declares resources loads none.
 */
const CAPABILITY_MODULES: Record<DriverKind, () => HypervisorCapabilities> = {
  libvirt: () => (require("./libvirt/capabilities") as typeof import("./libvirt/capabilities")).LIBVIRT_CAPABILITIES,
  vsphere: () => (require("./vsphere/capabilities") as typeof import("./vsphere/capabilities")).VSPHERE_CAPABILITIES,
  proxmox: () => (require("./proxmox/capabilities") as typeof import("./proxmox/capabilities")).PROXMOX_CAPABILITIES,
  hyperv: () => (require("./hyperv/capabilities") as typeof import("./hyperv/capabilities")).HYPERV_CAPABILITIES,
  xcpng: () => (require("./xcpng/capabilities") as typeof import("./xcpng/capabilities")).XCPNG_CAPABILITIES,
};

/** Static capabilities: no host contacted, so `pulumi preview` can refuse a spec offline. */
export function capabilitiesOf(kind: DriverKind): HypervisorCapabilities {
  return CAPABILITY_MODULES[kind]();
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

/** Whether a kind has a driver that manages resources, or only its capability table (check() only). */
export function hasDriver(kind: DriverKind): boolean {
  return FACTORIES[kind] !== undefined;
}

const open = new Map<string, Promise<Driver>>();

/** One driver per host per process: connections and sessions are shared by every resource. */
export function openDriver(host: string, config: HostConfig): Promise<Driver> {
  const key = `${host}\u0000${JSON.stringify(config)}`;
  let driver = open.get(key);
  if (!driver) {
    const factory = FACTORIES[config.driver];
    if (!factory) {
      return Promise.reject(new Error(`host "${host}": the ${capabilitiesOf(config.driver).product} driver can validate specs but cannot manage resources yet`));
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
