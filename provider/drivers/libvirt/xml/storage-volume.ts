import type { VolumeFormat, VolumeSpec } from "../../../core/model";
import { parseXml } from "./dom";
import { el, render } from "./element";
import { LibvirtXmlError } from "./errors";
import { storageBytes } from "./units";

const GIB = 1024 ** 3;

export interface VolumeBuildContext {
  /** Path of the backing volume (spec.backingStore names it; the driver resolves the path in the pool). */
  backingPath?: string;
  backingFormat?: VolumeFormat;
  /**
   * Capacity when the spec has no sizeGiB: an overlay or clone takes its source's size, an upload
   * the file's. Libvirt requires a capacity on every volume it creates.
   */
  capacityBytes?: number;
}

/** The volume definition for `virStorageVolCreateXML` (or `…CreateXMLFrom` for clones). */
export function buildVolumeXml(spec: VolumeSpec, ctx: VolumeBuildContext = {}): string {
  const capacity = spec.sizeGiB !== undefined ? Math.round(spec.sizeGiB * GIB) : ctx.capacityBytes;
  if (capacity === undefined) throw new LibvirtXmlError("sizeGiB", "no capacity: give sizeGiB or resolve the source's size (ctx.capacityBytes)");
  if (spec.backingStore !== undefined && ctx.backingPath === undefined) {
    throw new LibvirtXmlError("backingStore", "the backing volume's path must be resolved first (ctx.backingPath)");
  }
  return render(
    el(
      "volume",
      {},
      el("name", {}, spec.name),
      el("capacity", { unit: "bytes" }, capacity),
      el("target", {}, el("format", { type: spec.format })),
      spec.backingStore !== undefined && el("backingStore", {}, el("path", {}, ctx.backingPath), el("format", { type: ctx.backingFormat ?? "qcow2" })),
    ),
  );
}

export interface ParsedVolume {
  name: string;
  /** Libvirt's volume type: file, block, dir, network … */
  type?: string;
  key?: string;
  path?: string;
  capacityBytes?: number;
  allocationBytes?: number;
  /** Capacity in GiB, the model's unit (fractional when the size is not whole GiB). */
  sizeGiB?: number;
  format?: string;
  backingStore?: { path?: string; format?: string };
}

export function parseVolumeXml(xml: string): ParsedVolume {
  const vol = parseXml(xml, "volume");
  const capacityBytes = storageBytes(vol.child("capacity"));
  const allocationBytes = storageBytes(vol.child("allocation"));
  const backing = vol.child("backingStore");
  const backingPath = backing?.child("path")?.text;
  const backingFormat = backing?.child("format")?.attr("type");
  const optional = {
    type: vol.attr("type"),
    key: vol.child("key")?.text,
    path: vol.at("target", "path")?.text,
    capacityBytes,
    allocationBytes,
    sizeGiB: capacityBytes !== undefined ? capacityBytes / GIB : undefined,
    format: vol.at("target", "format")?.attr("type"),
  };
  return {
    name: vol.child("name")?.text ?? "",
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined && v !== "")),
    // Libvirt writes an empty <backingStore/> for volumes without one.
    ...(backingPath !== undefined && backingPath !== "" ? { backingStore: { path: backingPath, ...(backingFormat !== undefined ? { format: backingFormat } : {}) } } : {}),
  };
}
