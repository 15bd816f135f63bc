import type { ChangePlan } from "../../../core/classify";
import { needsRestart } from "../../../core/disruption";
import type { Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { VirtualMachineSpec } from "../../../core/model";
import type { HostConfig } from "../../../core/hosts";
import { migrateLive } from "../migration";
import type { DomainRef, LibvirtClient } from "../rpc";
import { LibvirtError } from "../rpc";
import { orAbsent, type LibvirtSession } from "../session";
import { deleteVolumeIfPresent, resolveVolume } from "../volumes";
import { buildDomainXml, parseDomainXml, type ParsedDomain } from "../xml";
import { applyLiveChanges } from "./vm-live";
import { blankDiskName, resolveDomainContext, seedVolumeName } from "./vm-context";
import { observedSpec } from "./vm-observe";
import { applyPowerState, domainState, stateName, stopGracefully, waitForIp } from "./vm-power";

/** virDomainXMLFlags / virDomainDefineFlags / virDomainUndefineFlags bits. */
const XML_INACTIVE = 2;
const DEFINE_VALIDATE = 1;
const UNDEFINE_ALL = 1 | 2 | 4 | 16; // managed save, snapshot metadata, NVRAM, checkpoint metadata

type Spec = VirtualMachineSpec;

/**
 * VMs on libvirt. A VM's id is its domain UUID: stable across renames and migrations, and what
 * libvirt looks it up by without ambiguity.
 */
export class LibvirtVmResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession, private readonly hostConfig: HostConfig) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByName", { name: spec.name }));
    return found ? this.observe(client, found.dom, spec) : undefined;
  }

  async create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    ctx.progress("resolving disks, networks and devices");
    const build = await resolveDomainContext(this.session, spec);
    const xml = buildDomainXml(spec, build);
    const { dom } = await client.call("domainDefineXmlFlags", { xml, flags: DEFINE_VALIDATE });
    ctx.progress(`defined (uuid ${dom.uuid})`);
    try {
      await this.converge(client, dom, spec, ctx);
    } catch (error) {
      const observed = await this.observe(client, dom, spec).catch(() => undefined);
      throw new PartialCreateError(dom.uuid, observed?.outputs ?? { uuid: dom.uuid }, `VM "${spec.name}" was defined but not finished: ${message(error)}`);
    }
    return this.observeWithIp(client, dom, spec, ctx);
  }

  async read(id: string, last: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: id }));
    return found ? this.observe(client, found.dom, last) : undefined;
  }

  async update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    if (plan.changes.some((c) => c.path === "host") && old.host !== next.host) {
      return this.migrateThenUpdate(id, old, next, plan, ctx);
    }
    const client = await this.session.get();
    const { dom } = await client.call("domainLookupByUuid", { uuid: id });
    const current = parseDomainXml((await client.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE })).xml);
    const build = await resolveDomainContext(this.session, next, { uuid: id, macs: current.macs });
    // The persistent definition always becomes the full desired one; live changes follow.
    await client.call("domainDefineXmlFlags", { xml: buildDomainXml(next, build), flags: DEFINE_VALIDATE });
    const running = (await domainState(client, dom)) !== 5;
    const restart = plan.changes.some((c) => needsRestart(c.disruption));
    if (running && restart) {
      if (!next.updatePolicy.allowReboot && next.powerState === "running") {
        throw new Error(`the change needs a restart and updatePolicy.allowReboot is false; the new definition is saved and applies at the next power cycle`);
      }
      ctx.progress("restarting to apply changes that need a power cycle");
      await stopGracefully(client, dom, next.updatePolicy.shutdownTimeoutSeconds, ctx);
    } else if (running) {
      await applyLiveChanges(client, dom, old, next, plan, build, ctx);
    }
    await this.converge(client, dom, next, ctx);
    return this.observeWithIp(client, dom, next, ctx);
  }

  async delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: id }));
    if (found) {
      const how = await stopGracefully(client, found.dom, spec.updatePolicy.shutdownTimeoutSeconds, ctx);
      if (how !== "already-stopped") ctx.progress(how === "graceful" ? "guest shut down" : "guest powered off");
      try {
        await client.call("domainUndefineFlags", { dom: found.dom, flags: UNDEFINE_ALL });
      } catch (error) {
        // Drivers without NVRAM or checkpoint support refuse those flags; plain undefine is enough there.
        if (!(error instanceof LibvirtError && (error.isUnsupported() || error.isInvalidArg()))) throw error;
        await orAbsent(client.call("domainUndefine", { dom: found.dom }));
      }
    }
    // Volumes NovaCron made for this VM go with it; volumes the user gave are theirs.
    for (const [slot, disk] of Object.entries(spec.disks)) {
      if (disk.volume) continue;
      const pool = await orAbsent(client.call("storagePoolLookupByName", { name: disk.pool! }));
      const vol = pool && (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: blankDiskName(spec.name, slot) })));
      if (vol) await orAbsent(client.call("storageVolDelete", { vol: vol.vol, flags: 0 }));
    }
    if (spec.cloudInit) {
      const seedPath = await this.seedPath(client, spec);
      if (seedPath) await deleteVolumeIfPresent(client, seedPath);
    }
  }

  /** Power state, then the IP wait: the parts of create/update that may fail after the definition exists. */
  private async converge(client: LibvirtClient, dom: DomainRef, spec: Spec, ctx: OperationContext): Promise<void> {
    await applyPowerState(client, dom, spec.powerState, spec.updatePolicy.shutdownTimeoutSeconds, ctx);
  }

  private async observeWithIp(client: LibvirtClient, dom: DomainRef, spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const observed = await this.observe(client, dom, spec);
    if (spec.waitForIp && spec.powerState === "running") {
      const macs = observed.outputs.macAddresses as Record<string, string>;
      const nics = Object.entries(spec.nics).filter(([, n]) => n.network).map(([slot, n]) => ({ network: n.network!, mac: macs[slot] }));
      try {
        observed.outputs.ipAddress = await waitForIp(client, nics, spec.waitForIp.timeoutSeconds, ctx);
      } catch (error) {
        throw new PartialCreateError(dom.uuid, observed.outputs, message(error));
      }
    }
    return observed;
  }

  private async observe(client: LibvirtClient, dom: DomainRef, last: Spec): Promise<Observed<Spec>> {
    const { xml } = await client.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE });
    const parsed = parseDomainXml(xml);
    const state = await domainState(client, dom);
    const lastPaths = await this.resolvedPaths(client, last);
    const spec = observedSpec(parsed, state, last, lastPaths);
    return { id: dom.uuid, spec, owned: parsed.ownership.owned, outputs: outputsOf(parsed, state) };
  }

  private async resolvedPaths(client: LibvirtClient, spec: Spec): Promise<Record<string, string>> {
    const paths: Record<string, string> = {};
    for (const [slot, disk] of Object.entries(spec.disks)) {
      if (disk.volume) {
        const found = disk.volume.startsWith("/") ? { path: disk.volume } : await resolveVolume(client, disk.volume);
        if (found) paths[slot] = found.path;
      } else {
        const pool = await orAbsent(client.call("storagePoolLookupByName", { name: disk.pool! }));
        const vol = pool && (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: blankDiskName(spec.name, slot) })));
        if (vol) paths[slot] = vol.vol.key;
      }
    }
    return paths;
  }

  private async seedPath(client: LibvirtClient, spec: Spec): Promise<string | undefined> {
    const first = Object.values(spec.disks)[0];
    const poolName = first?.volume ? (await resolveVolume(client, first.volume))?.ref.pool : first?.pool;
    if (!poolName) return undefined;
    const pool = await orAbsent(client.call("storagePoolLookupByName", { name: poolName }));
    const vol = pool && (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: seedVolumeName(spec.name) })));
    return vol ? vol.vol.key : undefined;
  }

  /**
   * A host change on a running VM: live migration peer-to-peer to the other libvirt host, then the
   * rest of the update runs there. A stopped VM's definition is moved instead.
   */
  private async migrateThenUpdate(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const target = await ctx.connect(next.host);
    if (target.config.driver !== "libvirt") throw new Error(`host: "${next.host}" is not a libvirt host; moving across hypervisor kinds replaces the VM`);
    const client = await this.session.get();
    const { dom } = await client.call("domainLookupByUuid", { uuid: id });
    const targetOps = target.resource("VirtualMachine")!;
    let migration: Record<string, number> | undefined;
    if ((await domainState(client, dom)) !== 5) {
      const result = await migrateLive(client, dom, {
        destinationUri: target.config.uri,
        migrateUri: target.config.migrationUri,
        maxDowntimeMs: 300,
        deadline: ctx.deadline,
        progress: ctx.progress,
      });
      migration = { totalMs: result.totalMs, downtimeMs: result.downtimeMs, bytesMoved: result.bytesMoved };
    } else {
      ctx.progress(`moving the stopped VM's definition to ${next.host}`);
      const { xml } = await client.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE | 1 });
      const targetClient = await (target as unknown as { session: LibvirtSession }).session.get();
      await targetClient.call("domainDefineXmlFlags", { xml, flags: 0 });
      await client.call("domainUndefineFlags", { dom, flags: UNDEFINE_ALL }).catch(() => client.call("domainUndefine", { dom }));
    }
    const moved = { ...old, host: next.host };
    const rest: ChangePlan = { ...plan, changes: plan.changes.filter((c) => c.path !== "host") };
    const observed = rest.changes.length > 0 ? await targetOps.update(id, moved, next, rest, ctx) : await targetOps.read(id, next);
    if (!observed) throw new Error(`the VM did not arrive on ${next.host}`);
    if (migration) observed.outputs.migration = migration;
    return observed;
  }
}

function outputsOf(parsed: ParsedDomain, state: number): Record<string, unknown> {
  return { uuid: parsed.uuid, state: stateName(state), macAddresses: parsed.macs };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
