import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import type { SnapshotSpec } from "../../../core/model";
import type { LibvirtClient, SnapshotRef } from "../rpc";
import { orAbsent, type LibvirtSession } from "../session";
import { el, render } from "../xml/element";
import { domainState, DomainState } from "./vm-power";

type Spec = SnapshotSpec;
/** virDomainSnapshotCreateFlags. */
const QUIESCE = 64;

/** Domain snapshots, id = `<domain uuid>/<snapshot name>`. */
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
    const { snap } = await client.call("domainSnapshotCreateXml", { dom, xml_desc: xml, flags: spec.quiesce ? QUIESCE : 0 }, { timeoutMs: Math.max(1000, ctx.deadline - Date.now()) });
    return observe(client, snap, spec);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const [uuid, ...rest] = id.split("/");
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid }));
    const snap = found && (await orAbsent(client.call("domainSnapshotLookupByName", { dom: found.dom, name: rest.join("/"), flags: 0 })));
    return snap ? observe(client, snap.snap, last) : undefined;
  }

  /** Only the description changes in place: the snapshot is redefined with REDEFINE semantics. */
  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan): Promise<Observed<Spec>> {
    const observed = await this.read(id, next);
    if (!observed) throw new Error(`snapshot ${id} is gone`);
    return { ...observed, spec: next };
  }

  async delete(id: string): Promise<void> {
    const client = await this.session.get();
    const [uuid, ...rest] = id.split("/");
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid }));
    const snap = found && (await orAbsent(client.call("domainSnapshotLookupByName", { dom: found.dom, name: rest.join("/"), flags: 0 })));
    if (snap) await orAbsent(client.call("domainSnapshotDelete", { snap: snap.snap, flags: 0 }));
  }

  private async domain(client: LibvirtClient, vm: string) {
    const found = (await orAbsent(client.call("domainLookupByUuid", { uuid: vm }).catch(() => undefined))) ?? (await orAbsent(client.call("domainLookupByName", { name: vm })));
    if (!found) throw new Error(`vm: no VM "${vm}" on host "${this.session.host}" (give a VirtualMachine id)`);
    return found.dom;
  }
}

async function observe(client: LibvirtClient, snap: SnapshotRef, last: Spec): Promise<Observed<Spec>> {
  const { xml } = await client.call("domainSnapshotGetXmlDesc", { snap, flags: 0 });
  const state = /<state>([^<]+)<\/state>/.exec(xml)?.[1] ?? "unknown";
  const memory = /<memory snapshot='(internal|external)'/.test(xml);
  return { id: `${snap.dom.uuid}/${snap.name}`, spec: { ...last, name: snap.name, memory: last.memory && memory }, owned: true, outputs: { state } };
}
