import type { DiskTransfer } from "../../core/disk-transfer";
import type { HostConfig } from "../../core/hosts";
import type { ResourceKind, SpecOf } from "../../core/model";
import { LibvirtDiskTransfer } from "./disk-transfer";
import type { CrossMoveSupport, Driver, HostCapabilities, ResourceDriver } from "../../core/driver";
import { libvirtCrossMove } from "./cross-move";
import { libvirtHostCapabilities } from "./host-capabilities";
import { collectMetrics, type VmMetrics } from "./metrics";
import { LibvirtNetworkResource } from "./resources/network";
import { LibvirtPassthroughResource } from "./resources/passthrough";
import { LibvirtPoolResource } from "./resources/pool";
import { LibvirtSnapshotResource } from "./resources/snapshot";
import { LibvirtVmResource } from "./resources/vm";
import { LibvirtVolumeResource } from "./resources/volume";
import { LibvirtSession } from "./session";

/** KVM/QEMU through libvirt's RPC protocol: one session per host, shared by every resource. */
export class LibvirtDriver implements Driver {
  readonly kind = "libvirt" as const;
  readonly vmIdsAreGlobal = true;
  private readonly resources: { [K in ResourceKind]?: ResourceDriver<SpecOf<K>> };

  constructor(
    readonly host: string,
    readonly config: HostConfig,
    readonly session: LibvirtSession,
  ) {
    this.resources = {
      VirtualMachine: new LibvirtVmResource(session),
      StoragePool: new LibvirtPoolResource(session),
      Volume: new LibvirtVolumeResource(session),
      Network: new LibvirtNetworkResource(session),
      PassthroughDevice: new LibvirtPassthroughResource(session),
      Snapshot: new LibvirtSnapshotResource(session),
    };
  }

  hostCapabilities(): Promise<HostCapabilities> {
    return libvirtHostCapabilities(this.session);
  }

  /** Counters of every VM on this host from one round trip, for a collector to poll. */
  collectMetrics(): Promise<VmMetrics[]> {
    return collectMetrics(this.session);
  }

  resource<K extends ResourceKind>(kind: K): ResourceDriver<SpecOf<K>> | undefined {
    return this.resources[kind];
  }

  crossMove(): CrossMoveSupport {
    return libvirtCrossMove(this.session);
  }

  /** Volume download/upload streams, each on a connection of its own. */
  diskTransfer(): DiskTransfer {
    return new LibvirtDiskTransfer(this.session);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

export async function openLibvirtDriver(host: string, config: HostConfig): Promise<Driver> {
  const session = LibvirtSession.fromConfig(host, config);
  await session.get();
  return new LibvirtDriver(host, config, session);
}
