import { parseXml } from "./dom";
import { el, escapeText, render } from "./element";
import { OWNER_MARKER } from "./metadata";

/**
 * Libvirt snapshots have no metadata element of their own, but every snapshot keeps a copy of
 * the domain definition as it was when it was taken, `<metadata>` included. NovaCron writes a
 * mark naming the snapshot into the domain's metadata just before taking it: the copy inside
 * the snapshot then carries the mark for as long as the snapshot lives, and a snapshot someone
 * else took (before or after) never does. The live domain's mark is removed right after.
 */
export const SNAPSHOT_METADATA_NS = "https://novacron.dev/xmlns/snapshot/1";
export const SNAPSHOT_METADATA_KEY = "novacron";

/** The element handed to virDomainSetMetadata (libvirt adds our namespace and prefix). */
export function snapshotMarkXml(snapshotName: string): string {
  return render(el("snapshot", { name: snapshotName, "managed-by": OWNER_MARKER }));
}

export interface ParsedSnapshot {
  name: string;
  description: string;
  state: string;
  /** Taken with the guest's memory (internal or external). */
  memory: boolean;
  /** NovaCron's mark naming this very snapshot is in the domain copy it holds. */
  owned: boolean;
}

export function parseSnapshotXml(xml: string): ParsedSnapshot {
  const root = parseXml(xml, "domainsnapshot");
  const name = root.child("name")?.text ?? "";
  const metadata = root.at("domain", "metadata");
  const mark = metadata?.children.find((c) => c.namespaceUri === SNAPSHOT_METADATA_NS);
  const memoryMode = root.child("memory")?.attr("snapshot");
  return {
    name,
    description: root.child("description")?.text ?? "",
    state: root.child("state")?.text ?? "unknown",
    memory: memoryMode === "internal" || memoryMode === "external",
    owned: mark !== undefined && mark.attr("name") === name && mark.attr("managed-by") === OWNER_MARKER,
  };
}

/**
 * The snapshot's own XML with another description, for a REDEFINE: libvirt keeps everything
 * else (the disks' state, the domain copy and our mark in it) as it was.
 */
export function withDescription(xml: string, description: string): string {
  const element = description === "" ? "" : `<description>${escapeText(description)}</description>`;
  if (/<description>[\s\S]*?<\/description>/.test(xml)) return xml.replace(/<description>[\s\S]*?<\/description>\n?\s*/, element);
  return xml.replace(/(<name>[\s\S]*?<\/name>)/, `$1${element}`);
}
