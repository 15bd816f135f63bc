import type { DiskLocation } from "../../core/disk-transfer";
import type { CrossMoveSupport } from "../../core/driver";
import { datastorePath } from "./datastore-files";
import type { VsphereSession } from "./session";

/**
 * vSphere's part in a cross-hypervisor move besides the data path: an imported disk goes into
 * the folder vCenter gives the VM (named after it), so the VM create attaches it
 * (OperationContext.importedDisks) and Destroy_Task deletes it with the VM's own files, as it
 * does the disks it made; disks outside that folder are detached and kept (vm/lifecycle.ts).
 */
export function vsphereCrossMove(session: VsphereSession): CrossMoveSupport {
  return {
    importedDiskName: (vm: string, slot: string) => `${vm}/${vm}-${slot}.vmdk`,
    async locateDisk(pool: string, name: string): Promise<DiskLocation | undefined> {
      // The data path writes the flat extent first and its descriptor last, so an import cut
      // short may have left a flat file with no descriptor: the descriptor's address is returned
      // either way, and removeDisk deletes whichever of the two exists.
      return { slot: "", address: datastorePath({ datacenter: session.datacenter, datastore: pool, path: name }), format: "raw", virtualSize: 0 };
    },
  };
}
