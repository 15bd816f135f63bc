// Server state → VmState: the reverse mapping used by refresh and drift
// detection. Everything comes from one PropertyCollector round trip.
import { bool, child, children, getProperties, moref, morefs, num, text, type MoRef, type VimClient, type XNode } from "../soap";
import { diskSlots, hostdevSlots, indexSlots, LABEL_PREFIX, nicWireType, OWNER_KEY, parseDevices, parseExtraConfig, type Devices } from "./devices";
import type { CurrentConfig } from "./reconfigure-spec";
import { parseBootOrder } from "./boot-order";
import { cdromSlot } from "./cdrom";
import type { CdromSpec, DiskSpec, Firmware, NicAdapter, NicSpec, PassthroughSpec, PowerState, SnapshotInfo, VmSpec, VmState } from "./spec";

/** Devices worth telling a user about; controllers, keyboards and video cards are every VM's. */
const USER_VISIBLE = /Cdrom|Floppy|SerialPort|ParallelPort|Sound|HdAudio|Ensoniq|^VirtualUSB$|Tpm|Watchdog|PrecisionClock/;

export const VM_PROPERTIES = ["config", "runtime.powerState", "runtime.host", "guest.toolsRunningStatus", "guest.ipAddress", "resourcePool", "datastore", "snapshot"] as const;

function decode(extra: ReadonlyMap<string, string>, name: string): string | undefined {
  const v = extra.get(`guestinfo.${name}`);
  if (v === undefined || v === "") return undefined;
  return extra.get(`guestinfo.${name}.encoding`) === "base64" ? Buffer.from(v, "base64").toString("utf8") : v;
}

function snapshots(list: readonly XNode[], parents: readonly string[], out: SnapshotInfo[]): void {
  for (const s of list) {
    const ref = moref(s, "snapshot");
    const name = text(s, "name") ?? "";
    if (ref) {
      out.push({
        ref,
        name,
        description: text(s, "description") ?? "",
        createTime: text(s, "createTime") ?? "",
        quiesced: bool(s, "quiesced") ?? false,
        parents,
      });
    }
    snapshots(children(s, "childSnapshotList"), [...parents, name], out);
  }
}

function labelsOf(extra: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of extra) if (k.startsWith(LABEL_PREFIX) && v !== "") out[k.slice(LABEL_PREFIX.length)] = v;
  return out;
}

/** Drives at positions a model slot names; any other stays unmanaged. */
function cdromsOf(devices: Devices): Record<string, CdromSpec> {
  const out: Record<string, CdromSpec> = {};
  for (const d of devices.cdroms ?? []) {
    const ide = devices.ide?.find((c) => c.key === d.controllerKey);
    const sata = devices.sata?.find((c) => c.key === d.controllerKey);
    const controller = ide ? "ide" : "sata";
    const on = ide ?? sata;
    const slot = on && cdromSlot(controller, on.busNumber, d.unitNumber);
    if (slot) out[slot] = { controller, bus: on.busNumber, unit: d.unitNumber, ...(d.iso !== undefined ? { iso: d.iso } : {}) };
  }
  return out;
}

/** The affinity set, sorted; none (or an empty one) is no restriction. */
function affinityOf(node: XNode | undefined): number[] | undefined {
  const cpus = (node?.children ?? [])
    .filter((c) => c.name === "affinitySet")
    .map((c) => Number(text(c)))
    .filter((n) => Number.isInteger(n));
  return cpus.length > 0 ? cpus.sort((a, b) => a - b) : undefined;
}

export interface VmDetails extends CurrentConfig {
  readonly state: VmState;
  /** Datastore name of the VM's home folder, where new disks go by default. */
  readonly homeDatastore: string;
}

export function parseVm(ref: MoRef, props: ReadonlyMap<string, XNode>): VmDetails {
  const config = props.get("config");
  const hardware = child(config, "hardware");
  const devices: Devices = parseDevices(hardware);
  const extra = parseExtraConfig(children(config, "extraConfig"));
  const slots = diskSlots(extra);
  const controller = devices.scsi.find((c) => c.busNumber === 0);
  const hostdevs = hostdevSlots(extra);
  const index = indexSlots(devices, slots, hostdevs);
  const passthrough: Record<string, PassthroughSpec> = {};
  for (const [slot, p] of index.passthrough) {
    passthrough[slot] =
      "kind" in p
        ? { kind: "usb", id: p.id, path: p.path, vendorId: p.vendorId, productId: p.productId }
        : { id: p.id, vendorId: p.vendorId, deviceId: p.deviceId, systemId: p.systemId, deviceName: p.deviceName };
  }
  const disks: Record<string, DiskSpec> = {};
  const diskFiles: Record<string, string> = {};
  for (const [slot, d] of index.disks) {
    disks[slot] = { sizeGiB: d.capacityKB / (1024 * 1024), provisioning: d.provisioning };
    diskFiles[slot] = d.fileName;
  }
  const nics: Record<string, NicSpec> = {};
  const macAddresses: Record<string, string> = {};
  const unmanaged = (devices.other ?? []).filter((d) => USER_VISIBLE.test(d.type)).map((d) => `${d.label} (${d.type})`);
  for (const [slot, n] of index.nics) {
    if (!n.network) unmanaged.push(`${n.adapter} NIC ${n.macAddress ?? ""} on a network NovaCron cannot name`.replace("  ", " "));
    if (n.network) {
      const manual = n.addressType === "manual" ? n.macAddress?.toLowerCase() : undefined;
      nics[slot] = { network: n.network, adapter: n.adapter in nicWireType ? (n.adapter as NicAdapter) : undefined, macAddress: manual };
    }
    if (n.macAddress) macAddresses[slot] = n.macAddress;
  }

  const userData = decode(extra, "userdata");
  const metaData = decode(extra, "metadata");
  const firmware = text(config, "firmware");
  const spec: VmSpec = {
    name: text(config, "name") ?? "",
    guestId: text(config, "guestId"),
    numCPUs: num(hardware, "numCPU") ?? 0,
    numCoresPerSocket: num(hardware, "numCoresPerSocket"),
    memoryMB: num(hardware, "memoryMB") ?? 0,
    cpuHotAddEnabled: bool(config, "cpuHotAddEnabled"),
    memoryHotAddEnabled: bool(config, "memoryHotAddEnabled"),
    cpuReservationMHz: num(child(config, "cpuAllocation"), "reservation"),
    memoryReservationMB: num(child(config, "memoryAllocation"), "reservation"),
    scsiController: controller?.type === "lsilogic-sas" ? "lsilogic-sas" : controller ? "pvscsi" : undefined,
    disks,
    nics,
    passthrough,
    memoryReservationLockedToMax: bool(config, "memoryReservationLockedToMax"),
    firmware: firmware === "efi" || firmware === "bios" ? (firmware as Firmware) : undefined,
    secureBoot: bool(child(config, "bootOptions"), "efiSecureBootEnabled"),
    bootOrder: parseBootOrder(child(config, "bootOptions"), index),
    tpm: devices.tpm !== undefined,
    cdroms: cdromsOf(devices),
    cpuAffinity: affinityOf(child(config, "cpuAffinity")),
    cloudInit: userData !== undefined || metaData !== undefined ? { userData, metaData } : undefined,
    annotation: text(config, "annotation") || undefined,
    owner: extra.get(OWNER_KEY) || undefined,
    labels: labelsOf(extra),
  };
  const snaps: SnapshotInfo[] = [];
  snapshots(children(props.get("snapshot"), "rootSnapshotList"), [], snaps);
  const vmPath = text(child(config, "files"), "vmPathName") ?? "";
  return {
    spec,
    devices,
    diskSlots: slots,
    hostdevSlots: hostdevs,
    homeDatastore: /^\[([^\]]+)\]/.exec(vmPath)?.[1] ?? "",
    homeDir: vmPath.includes("/") ? vmPath.slice(0, vmPath.lastIndexOf("/") + 1) : undefined,
    state: {
      ref,
      spec,
      powerState: (text(props.get("runtime.powerState")) ?? "poweredOff") as PowerState,
      host: moref(props.get("runtime.host")),
      resourcePool: moref(props.get("resourcePool")),
      datastores: morefs(props.get("datastore"), "ManagedObjectReference"),
      template: bool(config, "template") ?? false,
      toolsRunning: text(props.get("guest.toolsRunningStatus")) === "guestToolsRunning",
      instanceUuid: text(config, "instanceUuid"),
      ipAddress: text(props.get("guest.ipAddress")) || undefined,
      snapshots: snaps,
      macAddresses,
      diskFiles,
      unmanaged,
    },
  };
}

/** Reads a VM; ManagedObjectNotFoundError when it no longer exists. */
export async function readVmDetails(client: VimClient, vm: MoRef): Promise<VmDetails> {
  const content = await getProperties(client, vm, VM_PROPERTIES);
  return parseVm(vm, content.props);
}

export async function readVm(client: VimClient, vm: MoRef): Promise<VmState> {
  return (await readVmDetails(client, vm)).state;
}
