// What a host can do, from HostSystem.capability, so plans can be checked
// against the target before anything is touched.
import { bool, getProperties, num, text, type MoRef, type VimClient } from "../soap";

export interface HostCapabilities {
  readonly name: string;
  readonly vMotionSupported: boolean | undefined;
  readonly storageVMotionSupported: boolean | undefined;
  readonly nestedHVSupported: boolean | undefined;
  readonly tpmSupported: boolean | undefined;
  readonly cloneFromSnapshotSupported: boolean | undefined;
  readonly maxSupportedVcpus: number | undefined;
  readonly maxRunningVMs: number | undefined;
  readonly maintenanceModeSupported: boolean | undefined;
  /** "connected", "disconnected", "notResponding". */
  readonly connectionState: string | undefined;
  readonly inMaintenanceMode: boolean | undefined;
}

export async function getHostCapabilities(client: VimClient, host: MoRef): Promise<HostCapabilities> {
  const c = await getProperties(client, host, ["name", "capability", "runtime.connectionState", "runtime.inMaintenanceMode"]);
  const cap = c.props.get("capability");
  return {
    name: text(c.props.get("name")) ?? host.value,
    vMotionSupported: bool(cap, "vmotionSupported"),
    storageVMotionSupported: bool(cap, "storageVMotionSupported"),
    nestedHVSupported: bool(cap, "nestedHVSupported"),
    tpmSupported: bool(cap, "tpmSupported"),
    cloneFromSnapshotSupported: bool(cap, "cloneFromSnapshotSupported"),
    maxSupportedVcpus: num(cap, "maxSupportedVcpus"),
    maxRunningVMs: num(cap, "maxRunningVMs"),
    maintenanceModeSupported: bool(cap, "maintenanceModeSupported"),
    connectionState: text(c.props.get("runtime.connectionState")),
    inMaintenanceMode: bool(c.props.get("runtime.inMaintenanceMode")),
  };
}
