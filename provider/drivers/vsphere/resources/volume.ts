// Volumes are standalone VMDKs in a datastore folder of NovaCron's own, made
// and removed through the VirtualDiskManager. The id is the datastore path,
// which a VM's `disks.<slot>.volume` attaches as it is.
import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { VolumeSpec } from "../../../core/model";
import { FileAlreadyExistsError, lookup, runTask, VimFault, type MoRef, type VimClient } from "../soap";
import type { VsphereSession } from "../session";
import { taskOptions } from "./vm-power";

const FOLDER = "novacron-volumes";
const GiB_IN_KB = 1024 * 1024;

export function volumePath(spec: Pick<VolumeSpec, "pool" | "name">): string {
  return `[${spec.pool}] ${FOLDER}/${spec.name.endsWith(".vmdk") ? spec.name : `${spec.name}.vmdk`}`;
}

export class VsphereVolumeResource implements ResourceDriver<VolumeSpec> {
  constructor(private readonly session: VsphereSession) {}

  async find(spec: VolumeSpec): Promise<Observed<VolumeSpec> | undefined> {
    // Files in NovaCron's folder carry its name: one found there is an interrupted create's.
    return this.read(volumePath(spec), spec);
  }

  async create(spec: VolumeSpec, ctx: OperationContext): Promise<Observed<VolumeSpec>> {
    if (spec.backingStore || spec.uploadFrom) {
      throw new Error(`${spec.backingStore ? "backingStore" : "uploadFrom"}: not supported for vSphere volumes yet; use sizeGiB or cloneFrom`);
    }
    const client = await this.session.client();
    const dc = await this.datacenter(client);
    const path = volumePath(spec);
    await this.ensureFolder(client, dc, spec.pool);
    const vdm = client.serviceContent.ref("virtualDiskManager");
    if (spec.cloneFrom) {
      ctx.progress(`copying ${volumePath({ pool: spec.pool, name: spec.cloneFrom })}`);
      const source = volumePath({ pool: spec.pool, name: spec.cloneFrom });
      await runTask(client, "CopyVirtualDisk_Task", vdm, { sourceName: source, sourceDatacenter: dc, destName: path, destDatacenter: dc, force: false }, taskOptions(ctx));
    } else {
      const diskSpec = { $type: "FileBackedVirtualDiskSpec", diskType: "thin", adapterType: "lsiLogic", capacityKb: Math.round(spec.sizeGiB! * GiB_IN_KB) };
      await runTask(client, "CreateVirtualDisk_Task", vdm, { name: path, datacenter: dc, spec: diskSpec }, taskOptions(ctx));
    }
    return observed(path, spec);
  }

  async read(id: string, last: VolumeSpec): Promise<Observed<VolumeSpec> | undefined> {
    const client = await this.session.client();
    try {
      await client.invoke("QueryVirtualDiskUuid", client.serviceContent.ref("virtualDiskManager"), { name: id, datacenter: await this.datacenter(client) });
    } catch (error) {
      if (isFileNotFound(error)) return undefined;
      throw error;
    }
    return observed(id, last);
  }

  async update(id: string, old: VolumeSpec, next: VolumeSpec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<VolumeSpec>> {
    if (next.sizeGiB !== undefined && next.sizeGiB !== old.sizeGiB) {
      const client = await this.session.client();
      ctx.progress(`growing to ${next.sizeGiB} GiB`);
      const vdm = client.serviceContent.ref("virtualDiskManager");
      await runTask(
        client,
        "ExtendVirtualDisk_Task",
        vdm,
        { name: id, datacenter: await this.datacenter(client), newCapacityKb: Math.round(next.sizeGiB * GiB_IN_KB) },
        taskOptions(ctx),
      );
    }
    return observed(id, next);
  }

  async delete(id: string, _spec: VolumeSpec, ctx: OperationContext): Promise<void> {
    const client = await this.session.client();
    try {
      await runTask(client, "DeleteVirtualDisk_Task", client.serviceContent.ref("virtualDiskManager"), { name: id, datacenter: await this.datacenter(client) }, taskOptions(ctx));
    } catch (error) {
      if (!isFileNotFound(error)) throw error;
    }
  }

  private datacenter(client: VimClient): Promise<MoRef> {
    return lookup(client, "datacenter", this.session.datacenter);
  }

  private async ensureFolder(client: VimClient, dc: MoRef, datastore: string): Promise<void> {
    try {
      await client.invoke("MakeDirectory", client.serviceContent.ref("fileManager"), { name: `[${datastore}] ${FOLDER}`, datacenter: dc, createParentDirectories: true });
    } catch (error) {
      if (!(error instanceof FileAlreadyExistsError)) throw error;
    }
  }
}

function observed(id: string, spec: VolumeSpec): Observed<VolumeSpec> {
  return { id, spec, owned: true, outputs: { path: id } };
}

function isFileNotFound(error: unknown): boolean {
  return error instanceof VimFault && (error.faultType === "FileNotFound" || error.faultType === "NotFound");
}
