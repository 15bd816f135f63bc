import type { DiskTransfer } from "../../core/disk-transfer";
import type { HostConfig } from "../../core/hosts";
import type { ResourceKind, SpecOf } from "../../core/model";
import { VsphereDiskTransfer } from "./disk-transfer";
import type { CrossMoveSupport, Driver, HostCapabilities, ResourceDriver } from "../../core/driver";
import { vsphereCrossMove } from "./cross-move";
import { vsphereHostCapabilities } from "./host-capabilities";
import { VsphereDatastoreResource } from "./resources/datastore";
import { VspherePassthroughResource } from "./resources/passthrough";
import { VspherePortgroupResource } from "./resources/portgroup";
import { VsphereSnapshotResource } from "./resources/snapshot";
import { VsphereVmResource } from "./resources/vm";
import { VsphereVolumeResource } from "./resources/volume";
import { VsphereSession } from "./session";

type Resources = { [K in ResourceKind]?: ResourceDriver<SpecOf<K>> };

/**
 * VMware vSphere through vim25. Every entry naming one vCenter and user shares
 * one logged-in session per process (logged out at exit by soap/session.ts).
 * Passthrough devices are adopted (found enabled on the pinned ESXi host), never enabled.
 */
export class VsphereDriver implements Driver {
  readonly kind = "vsphere" as const;
  private readonly resources: Resources;

  constructor(
    readonly host: string,
    readonly config: HostConfig,
    readonly session: VsphereSession,
  ) {
    this.resources = {
      VirtualMachine: new VsphereVmResource(session),
      Snapshot: new VsphereSnapshotResource(session),
      Volume: new VsphereVolumeResource(session),
      StoragePool: new VsphereDatastoreResource(session),
      Network: new VspherePortgroupResource(session),
      PassthroughDevice: new VspherePassthroughResource(session),
    };
  }

  hostCapabilities(): Promise<HostCapabilities> {
    return vsphereHostCapabilities(this.session);
  }

  resource<K extends ResourceKind>(kind: K): ResourceDriver<SpecOf<K>> | undefined {
    return this.resources[kind] as ResourceDriver<SpecOf<K>> | undefined;
  }

  crossMove(): CrossMoveSupport {
    return vsphereCrossMove(this.session);
  }

  /** Datastore file transfer of descriptor + flat file. */
  diskTransfer(): DiskTransfer {
    return new VsphereDiskTransfer(this.session);
  }

  async close(): Promise<void> {
    // The session is shared with other entries of the same vCenter; soap/session.ts logs it out at exit.
  }
}

export async function openVsphereDriver(host: string, config: HostConfig): Promise<Driver> {
  if (config.driver !== "vsphere") throw new Error(`host "${host}" is a ${config.driver} host, not vSphere`);
  const session = new VsphereSession(host, config);
  // Log in now: wrong credentials fail the first operation once, with vCenter's answer.
  await session.client();
  return new VsphereDriver(host, config, session);
}
