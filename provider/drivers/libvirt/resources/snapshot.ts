import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { SnapshotSpec } from "../../../core/model";
import type { DomainRef, LibvirtClient, SnapshotRef } from "../rpc";
import { orAbsent, type LibvirtSession } from "../session";
import { el, render } from "../xml/element";
import { parseSnapshotXml, snapshotMarkXml, SNAPSHOT_METADATA_KEY, SNAPSHOT_METADATA_NS, withDescription } from "../xml/snapshot";
import { domainState, DomainState } from "./vm-power";

type Spec = SnapshotSpec;
/** virDomainSnapshotCreateFlags. */
const REDEFINE = 1;
const QUIESCE = 64;
/** virDomainMetadataType ELEMENT; virDomainModificationImpact CURRENT (live if running, else config). */
const METADATA_ELEMENT = 2;
const AFFECT_CURRENT = 0;

/**
 * Domain snapshots, id = `<domain uuid>/<snapshot name>`. A snapshot is NovaCron's only when
 * the domain copy it holds carries our mark naming it (see xml/snapshot.ts); an administrator's
 * snapshot of the same name is refused unless adopted, and an adopted one is kept on destroy.
 */
export class LibvirtSnapshotResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const dom = await this.domain(client, spec.vm);
    const found = await orAbsent(client.call("domainSnapshotLookupByName", { dom, name: spec.name, flags: 0 }));
    return found ? observe(client, found.snap, spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const dom = await this.domain(client, spec.vm);
    const running = (await domainState(client, dom)) === DomainState.running;
    if (running && !spec.memory) {
      // QEMU's internal snapshots of a running guest always hold its memory; a disk-only one
      // would be external, which libvirt 9 cannot delete again.
      throw new Error(`memory: false on a running VM is not possible with internal snapshots; set memory: true or stop the VM first`);
    }
    const xml = render(
      el("domainsnapshot", {}, el("name", {}, spec.name), spec.description !== "" && el("description", {}, spec.description), !running && el("memory", { snapshot: "no" })),
    );
    ctx.progress(`taking snapshot ${spec.name}${running ? " with memory" : ""}`);
    // The mark goes on the domain first, so the copy the snapshot keeps carries it.
    await setMark(client, dom, snapshotMarkXml(spec.name));
    try {
      const { snap } = await client.call(
        "domainSnapshotCreateXml",
        { dom, xml_desc: xml, flags: spec.quiesce ? QUIESCE : 0 },
        { timeoutMs: Math.max(1000, ctx.deadline - Date.now()) },
      );
      return await observe(client, snap, spec);
    } finally {
      await setMark(client, dom, undefined).catch(() => undefined);
    }
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const snap = await lookup(client, id);
    return snap ? observe(client, snap, last) : undefined;
  }

  /**
   * The description is changed by redefining the snapshot from its own XML (REDEFINE keeps
   * disks, memory and the domain copy with our mark). A host change never reaches here as a
   * retake: the runtime updates a snapshot that followed its VM on the VM's new host.
   */
  async update(id: string, old: Spec, next: Spec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const snap = await lookup(client, id);
    if (!snap) throw new Error(`snapshot ${id} is gone from host "${next.host}"`);
    if (next.description !== old.description) {
      const { xml } = await client.call("domainSnapshotGetXmlDesc", { snap, flags: 0 });
      ctx.progress("changing the description");
      await client.call("domainSnapshotCreateXml", { dom: snap.dom, xml_desc: withDescription(xml, next.description), flags: REDEFINE });
    }
    return observe(client, snap, next);
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const client = await this.session.get();
    const snap = await lookup(client, id);
    if (!snap) return;
    // A snapshot of the same name taken since by someone else carries no mark of ours.
    if (!(await observe(client, snap, spec)).owned && !spec.adopt) {
      ctx.progress(`snapshot "${spec.name}" no longer carries NovaCron's mark (taken again outside NovaCron?); left in place`);
      return;
    }
    await orAbsent(client.call("domainSnapshotDelete", { snap, flags: 0 }));
  }

  private async domain(client: LibvirtClient, vm: string) {
    const found = (await orAbsent(client.call("domainLookupByUuid", { uuid: vm }).catch(() => undefined))) ?? (await orAbsent(client.call("domainLookupByName", { name: vm })));
    if (!found) throw new Error(`vm: no VM "${vm}" on host "${this.session.host}" (give a VirtualMachine id)`);
    return found.dom;
  }
}

async function lookup(client: LibvirtClient, id: string): Promise<SnapshotRef | undefined> {
  const [uuid, ...rest] = id.split("/");
  const found = await orAbsent(client.call("domainLookupByUuid", { uuid }));
  const snap = found && (await orAbsent(client.call("domainSnapshotLookupByName", { dom: found.dom, name: rest.join("/"), flags: 0 })));
  return snap ? snap.snap : undefined;
}

/** Writes (or, with undefined, removes) NovaCron's snapshot mark in the domain's metadata. */
async function setMark(client: LibvirtClient, dom: DomainRef, metadata: string | undefined): Promise<void> {
  await client.call("domainSetMetadata", {
    dom,
    type: METADATA_ELEMENT,
    metadata: metadata ?? null,
    key: metadata === undefined ? null : SNAPSHOT_METADATA_KEY,
    uri: SNAPSHOT_METADATA_NS,
    flags: AFFECT_CURRENT,
  });
}

async function observe(client: LibvirtClient, snap: SnapshotRef, last: Spec): Promise<Observed<Spec>> {
  const { xml } = await client.call("domainSnapshotGetXmlDesc", { snap, flags: 0 });
  const parsed = parseSnapshotXml(xml);
  return {
    id: `${snap.dom.uuid}/${snap.name}`,
    spec: { ...last, name: snap.name, memory: last.memory && parsed.memory, description: parsed.description },
    owned: parsed.owned,
    outputs: { state: parsed.state },
  };
}
