import type { PoolKind, StoragePoolSpec } from "../../../core/model";
import { parseXml } from "./dom";
import { el, render, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import { storageBytes } from "./units";

/**
 * Pool kinds translated here. iSCSI and RBD need host/IQN/auth-secret detail the model does not carry
 * yet, and `datastore` is vSphere's: those are refused instead of guessed. Libvirt pools have no
 * metadata element, so ownership cannot be recorded in their XML.
 */
export const POOL_KINDS_WITH_XML: readonly PoolKind[] = ["dir", "fs", "netfs", "logical", "zfs"];

export interface PoolBuildContext {
  uuid?: string;
}

/** `host:/export` → host and export path; IPv6 hosts come bracketed (`[fd00::1]:/export`). */
function splitExport(source: string): { host: string; dir: string } {
  const m = /^(\[[^\]]+\]|[^:]+):(\/.*)$/.exec(source);
  if (!m) throw new LibvirtXmlError("source", `got "${source}"; a netfs source is host:/export, e.g. "nas1:/srv/images"`);
  return { host: m[1].replace(/^\[|\]$/g, ""), dir: m[2] };
}

function sourceElement(spec: StoragePoolSpec): XmlElement | undefined {
  const source = spec.source;
  switch (spec.kind) {
    case "dir":
      return undefined;
    case "fs":
      return el("source", {}, el("device", { path: source }), el("format", { type: "auto" }));
    case "netfs": {
      const { host, dir } = splitExport(source ?? "");
      return el("source", {}, el("host", { name: host }), el("dir", { path: dir }), el("format", { type: "nfs" }));
    }
    case "logical":
      return el("source", {}, el("name", {}, source ?? spec.name), el("format", { type: "lvm2" }));
    case "zfs":
      return el("source", {}, el("name", {}, source ?? spec.name));
    default:
      throw new LibvirtXmlError("kind", `libvirt pools of kind "${spec.kind}" are not translated yet (supported: ${POOL_KINDS_WITH_XML.join(", ")})`);
  }
}

function targetPath(spec: StoragePoolSpec): string | undefined {
  // A volume group's devices appear under /dev/<vg>; libvirt wants that as the logical pool's target.
  if (spec.kind === "logical") return spec.path ?? `/dev/${spec.source ?? spec.name}`;
  return spec.path;
}

export function buildStoragePoolXml(spec: StoragePoolSpec, ctx: PoolBuildContext = {}): string {
  const source = sourceElement(spec);
  const path = targetPath(spec);
  if ((spec.kind === "dir" || spec.kind === "fs" || spec.kind === "netfs") && path === undefined) {
    throw new LibvirtXmlError("path", `is required to define a "${spec.kind}" pool`);
  }
  return render(
    el(
      "pool",
      { type: spec.kind },
      el("name", {}, spec.name),
      ctx.uuid !== undefined && el("uuid", {}, ctx.uuid),
      source,
      path !== undefined && el("target", {}, el("path", {}, path)),
    ),
  );
}

export interface ParsedStoragePool {
  name: string;
  uuid?: string;
  /** Libvirt's pool type; the model's kinds use the same words. */
  kind: string;
  path?: string;
  /** In the model's spelling: device path, `host:/export`, or volume group / zpool name. */
  source?: string;
  capacityBytes?: number;
  allocationBytes?: number;
  availableBytes?: number;
}

export function parseStoragePoolXml(xml: string): ParsedStoragePool {
  const pool = parseXml(xml, "pool");
  const kind = pool.attr("type") ?? "";
  const src = pool.child("source");
  let source: string | undefined;
  if (kind === "fs") source = src?.child("device")?.attr("path");
  else if (kind === "netfs") {
    const host = src?.child("host")?.attr("name");
    const dir = src?.child("dir")?.attr("path");
    if (host !== undefined && dir !== undefined) source = `${host.includes(":") ? `[${host}]` : host}:${dir}`;
  } else if (kind === "logical" || kind === "zfs") source = src?.child("name")?.text;
  const path = pool.at("target", "path")?.text;
  const sizes = {
    capacityBytes: storageBytes(pool.child("capacity")),
    allocationBytes: storageBytes(pool.child("allocation")),
    availableBytes: storageBytes(pool.child("available")),
  };
  return {
    name: pool.child("name")?.text ?? "",
    ...(pool.child("uuid") ? { uuid: pool.child("uuid")?.text } : {}),
    kind,
    ...(path !== undefined && path !== "" ? { path } : {}),
    ...(source !== undefined && source !== "" ? { source } : {}),
    ...Object.fromEntries(Object.entries(sizes).filter(([, v]) => v !== undefined)),
  };
}
