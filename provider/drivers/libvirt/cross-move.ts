import type { DiskLocation } from "../../core/disk-transfer";
import type { CrossMoveSupport } from "../../core/driver";
import { blankDiskName } from "./resources/vm-context";
import type { LibvirtSession } from "./session";
import { orAbsent } from "./session";
import { describeVolume } from "./volumes";

/**
 * libvirt's part in a cross-hypervisor move besides the data path: an imported disk gets the
 * name of a disk NovaCron makes for the slot (`<vm>-<slot>.qcow2`), so the VM create adopts it
 * (OperationContext.importedDisks) and the VM delete removes it like any disk it made.
 */
export function libvirtCrossMove(session: LibvirtSession): CrossMoveSupport {
  return {
    importedDiskName: blankDiskName,
    async locateDisk(pool: string, name: string): Promise<DiskLocation | undefined> {
      const client = await session.get();
      const found = await orAbsent(client.call("storagePoolLookupByName", { name: pool }));
      const vol = found && (await orAbsent(client.call("storageVolLookupByName", { pool: found.pool, name })));
      if (!vol) return undefined;
      const described = await describeVolume(client, vol.vol);
      const format = described.format === "raw" || described.format === "vmdk" ? described.format : "qcow2";
      // The key, as the data path addresses volumes (a dir pool's key is the path).
      return { slot: "", address: vol.vol.key, format, virtualSize: described.capacityBytes };
    },
  };
}
