import type { ChangePlan } from "../../../core/classify";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { NetworkSpec } from "../../../core/model";
import type { LibvirtClient, NetworkRef } from "../rpc";
import { orAbsent, tolerateGone, type LibvirtSession } from "../session";
import { buildNetworkXml, parseNetworkXml } from "../xml";

type Spec = NetworkSpec;

/** Virtual networks on libvirt, id = network name; ownership lives in the network's metadata. */
export class LibvirtNetworkResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("networkLookupByName", { name: spec.name }));
    return found ? observe(client, found.net, spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const { net } = await client.call("networkDefineXml", { xml: buildNetworkXml(spec, { ownership: { resource: spec.name } }) });
    try {
      await start(client, net, spec, ctx);
    } catch (error) {
      throw new PartialCreateError(net.name, { state: "inactive" }, `network "${spec.name}" was defined but could not start: ${(error as Error).message}`);
    }
    return observe(client, net, spec);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("networkLookupByName", { name: id }));
    return found ? observe(client, found.net, last) : undefined;
  }

  /**
   * Autostart and labels are set in place. Static leases change by redefining the network and
   * restarting it only if it is not in use by a running VM — the DHCP server rereads its hosts file.
   */
  async update(id: string, _old: Spec, next: Spec, _plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    const { net } = await client.call("networkLookupByName", { name: id });
    // A network we did not make (adopted) is never given our mark: that would make it ours.
    const current = parseNetworkXml((await client.call("networkGetXmlDesc", { net, flags: 0 })).xml);
    const ownership = { resource: next.name, adopted: !current.ownership.owned };
    await client.call("networkDefineXml", { xml: buildNetworkXml(next, { ownership, uuid: net.uuid }) });
    await start(client, net, next, ctx);
    return observe(client, net, next);
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("networkLookupByName", { name: id }));
    if (!found) return;
    // The id is a name: ours may have gone and someone else's taken its place. Only the mark
    // (or the user's adopt + deleteOnDestroy) lets delete touch what is there now.
    const current = parseNetworkXml((await client.call("networkGetXmlDesc", { net: found.net, flags: 0 })).xml);
    if (!current.ownership.owned && !spec.adopt) {
      ctx.progress(`network "${id}" no longer carries NovaCron's mark (replaced outside NovaCron?); left in place`);
      return;
    }
    await tolerateGone(client.call("networkDestroy", { net: found.net }));
    await tolerateGone(client.call("networkUndefine", { net: found.net }));
  }
}

async function start(client: LibvirtClient, net: NetworkRef, spec: Spec, ctx: OperationContext): Promise<void> {
  const { active } = await client.call("networkIsActive", { net });
  if (!active) {
    ctx.progress(`starting network ${spec.name}`);
    await client.call("networkCreate", { net });
  }
  await client.call("networkSetAutostart", { net, autostart: spec.autostart });
}

async function observe(client: LibvirtClient, net: NetworkRef, last: Spec): Promise<Observed<Spec>> {
  const [{ xml }, { active }, { autostart }] = await Promise.all([
    client.call("networkGetXmlDesc", { net, flags: 0 }),
    client.call("networkIsActive", { net }),
    client.call("networkGetAutostart", { net }),
  ]);
  const parsed = parseNetworkXml(xml);
  const spec: Spec = {
    ...last,
    name: parsed.name,
    mode: parsed.mode as Spec["mode"],
    cidr: parsed.cidr,
    // The range libvirt holds is the default one when the user gave none: keep their spelling.
    dhcp: parsed.dhcp && last.dhcp ? { ...last.dhcp, staticLeases: parsed.dhcp.staticLeases } : last.dhcp,
    bridge: last.bridge === undefined ? undefined : parsed.bridge,
    physicalFunction: parsed.physicalFunction,
    vlan: parsed.vlan,
    autostart,
    labels: parsed.labels,
  };
  return { id: net.name, spec, owned: parsed.ownership.owned, outputs: { uuid: net.uuid, state: active ? "active" : "inactive", bridgeName: parsed.bridge } };
}
