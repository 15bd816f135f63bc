import type { DomainRef, LibvirtClient } from "./rpc";
import { orAbsent } from "./session";

/** virDomainSnapshotListFlags TOPOLOGICAL: parents before children, the order a redefine needs. */
const LIST_TOPOLOGICAL = 1024;
/** virDomainSnapshotXMLFlags SECURE: the domain copy keeps console passwords, as the original does. */
const XML_SECURE = 1;
/** virDomainSnapshotCreateFlags REDEFINE, CURRENT. */
const REDEFINE = 1;
const REDEFINE_CURRENT = 2;
/** virDomainSnapshotDeleteFlags METADATA_ONLY: forget the snapshot, keep its data in the disks. */
const DELETE_METADATA_ONLY = 2;

/**
 * A domain's snapshot records, carried from one host to another when the VM moves. QEMU keeps
 * internal snapshots inside the qcow2 disks, which move with shared storage; libvirt keeps
 * only its records per host and refuses to migrate a domain that has any. So the records are
 * read, set aside on the source, and redefined on the destination: a moved VM keeps its
 * snapshots, and a Snapshot resource only follows it (never a retake).
 */
export interface CarriedSnapshots {
  /** Snapshot XML documents, parents first. */
  xmls: { name: string; xml: string }[];
  current?: string;
}

export async function readSnapshotRecords(client: LibvirtClient, dom: DomainRef): Promise<CarriedSnapshots> {
  const { snapshots } = await client.call("domainListAllSnapshots", { dom, need_results: 1, flags: LIST_TOPOLOGICAL });
  const xmls: CarriedSnapshots["xmls"] = [];
  for (const snap of snapshots) xmls.push({ name: snap.name, xml: (await client.call("domainSnapshotGetXmlDesc", { snap, flags: XML_SECURE })).xml });
  const current = snapshots.length > 0 ? (await orAbsent(client.call("domainSnapshotCurrent", { dom, flags: 0 })))?.snap.name : undefined;
  return { xmls, current };
}

/** Forgets the records on this host (children first); the snapshot data stays in the disks. */
export async function forgetSnapshotRecords(client: LibvirtClient, dom: DomainRef, carried: CarriedSnapshots): Promise<void> {
  for (const { name } of [...carried.xmls].reverse()) {
    const found = await orAbsent(client.call("domainSnapshotLookupByName", { dom, name, flags: 0 }));
    if (found) await client.call("domainSnapshotDelete", { snap: found.snap, flags: DELETE_METADATA_ONLY });
  }
}

/** Redefines the records on this host, parents first, the current one marked current again. */
export async function defineSnapshotRecords(client: LibvirtClient, dom: DomainRef, carried: CarriedSnapshots): Promise<void> {
  for (const { name, xml } of carried.xmls) {
    if (await orAbsent(client.call("domainSnapshotLookupByName", { dom, name, flags: 0 }))) continue;
    await client.call("domainSnapshotCreateXml", { dom, xml_desc: xml, flags: REDEFINE | (name === carried.current ? REDEFINE_CURRENT : 0) });
  }
}
