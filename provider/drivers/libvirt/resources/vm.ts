import type { ChangePlan } from "../../../core/classify";
import { needsRestart } from "../../../core/disruption";
import type { Driver, Observed, OperationContext, ResourceDriver } from "../../../core/driver";
import { PartialCreateError } from "../../../core/errors";
import type { VirtualMachineSpec } from "../../../core/model";
import type { HostConfig } from "../../../core/hosts";
import { downtimeCapFor, migrateLive, type MigrationResult } from "../migration";
import { migrationFixHint } from "../migration-hints";
import type { DomainRef, LibvirtClient } from "../rpc";
import { LibvirtError, parseLibvirtUri } from "../rpc";
import { LibvirtSession, orAbsent } from "../session";
import { deleteVolumeIfPresent, resolveVolume } from "../volumes";
import { buildDomainXml, parseDomainXml, type ParsedDomain } from "../xml";
import { defineSnapshotRecords, forgetSnapshotRecords, readSnapshotRecords } from "../snapshot-carry";
import { grownDisks, growDisksLive, growDisksOffline } from "./vm-disk-size";
import { applyLiveChanges } from "./vm-live";
import { blankDiskName, resolveDomainContext, seedVolumeName } from "./vm-context";
import { observedSpec } from "./vm-observe";
import { applyPowerState, DomainState, domainState, stateName, stopGracefully, waitForIp } from "./vm-power";

/** virDomainXMLFlags / virDomainDefineFlags / virDomainUndefineFlags bits. */
const XML_SECURE = 1;
const XML_INACTIVE = 2;
const DEFINE_VALIDATE = 1;
const UNDEFINE_ALL = 1 | 2 | 4 | 16; // managed save, snapshot metadata, NVRAM, checkpoint metadata

type Spec = VirtualMachineSpec;

/**
 * VMs on libvirt. A VM's id is its domain UUID: stable across renames and migrations, and what
 * libvirt looks it up by without ambiguity.
 */
export class LibvirtVmResource implements ResourceDriver<Spec> {
  constructor(private readonly session: LibvirtSession) {}

  async find(spec: Spec): Promise<Observed<Spec> | undefined> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByName", { name: spec.name }));
    return found ? this.observe(client, found.dom, spec) : undefined;
  }

  create(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    return this.changing(() => this.doCreate(spec, ctx));
  }

  update(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    return this.changing(() => this.doUpdate(id, old, next, plan, ctx));
  }

  delete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    return this.changing(() => this.doDelete(id, spec, ctx));
  }

  /** A change makes the shared domain list stale, both while it runs and after. */
  private async changing<T>(run: () => Promise<T>): Promise<T> {
    this.session.forgetDomains();
    try {
      return await run();
    } finally {
      this.session.forgetDomains();
    }
  }

  private async doCreate(spec: Spec, ctx: OperationContext): Promise<Observed<Spec>> {
    const client = await this.session.get();
    ctx.progress("resolving disks, networks and devices");
    // A cross-hypervisor move hands over disks it imported under the made names: adopted, not refused.
    const build = await resolveDomainContext(this.session, spec, { imported: ctx.importedDisks });
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
    // A refresh reads every VM at once: one host-wide list answers them all.
    const listed = (await this.session.domainsRecently()).get(id);
    if (listed) {
      try {
        return await this.observe(client, listed.dom, last, listed.state);
      } catch (error) {
        // Gone since the list was taken: look again, as a read without the list would.
        if (!(error instanceof LibvirtError && error.isNotFound())) throw error;
      }
    }
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: id }));
    return found ? this.observe(client, found.dom, last) : undefined;
  }

  private async doUpdate(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    if (plan.changes.some((c) => c.path === "host") && old.host !== next.host) {
      return this.migrateThenUpdate(id, old, next, plan, ctx);
    }
    const client = await this.session.get();
    const { dom } = await client.call("domainLookupByUuid", { uuid: id });
    // SECURE: a preserved console's password must be written back, not silently dropped.
    const current = parseDomainXml((await client.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE | XML_SECURE })).xml);
    // What the model does not manage comes from the host's definition, so the re-define keeps it.
    const build = await resolveDomainContext(this.session, next, { uuid: id, macs: current.macs, seedSalt: current.seedSalt, attachedPaths: attachedPaths(current), current });
    // The persistent definition always becomes the full desired one; live changes follow.
    await client.call("domainDefineXmlFlags", { xml: buildDomainXml(next, build), flags: DEFINE_VALIDATE });
    const running = (await domainState(client, dom)) !== 5;
    const restart = plan.changes.some((c) => needsRestart(c.disruption));
    const grown = grownDisks(plan, old, next);
    if (running && restart) {
      if (!next.updatePolicy.allowReboot && next.powerState === "running") {
        throw new Error(`the change needs a restart and updatePolicy.allowReboot is false; the new definition is saved and applies at the next power cycle`);
      }
      ctx.progress("restarting to apply changes that need a power cycle");
      await stopGracefully(client, dom, next.updatePolicy.shutdownTimeoutSeconds, ctx);
      await growDisksOffline(client, next, grown, ctx);
    } else if (running) {
      await applyLiveChanges(client, dom, old, next, plan, build, ctx);
      await growDisksLive(client, dom, grown, ctx);
    } else {
      await growDisksOffline(client, next, grown, ctx);
    }
    await this.converge(client, dom, next, ctx);
    return this.observeWithIp(client, dom, next, ctx);
  }

  private async doDelete(id: string, spec: Spec, ctx: OperationContext): Promise<void> {
    const client = await this.session.get();
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: id }));
    // Read before the definition goes: only volumes this VM uses are ever deleted with it.
    const attached = found ? attachedPaths(parseDomainXml((await client.call("domainGetXmlDesc", { dom: found.dom, flags: XML_INACTIVE })).xml)) : new Set<string>();
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
    // Volumes NovaCron made for this VM go with it; volumes the user gave are theirs. A volume
    // of the made name that the VM does not use (someone else's) is never touched: create
    // refuses to reuse one, so a made volume is always in the definition.
    for (const [slot, disk] of Object.entries(spec.disks)) {
      if (disk.volume) continue;
      const pool = await orAbsent(client.call("storagePoolLookupByName", { name: disk.pool! }));
      const vol = pool && (await orAbsent(client.call("storageVolLookupByName", { pool: pool.pool, name: blankDiskName(spec.name, slot) })));
      if (vol && attached.has(vol.vol.key)) await orAbsent(client.call("storageVolDelete", { vol: vol.vol, flags: 0 }));
    }
    if (spec.cloudInit) {
      const seedPath = await this.seedPath(client, spec);
      if (seedPath && attached.has(seedPath)) await deleteVolumeIfPresent(client, seedPath);
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
      const nics = Object.entries(spec.nics)
        .filter(([, n]) => n.network)
        .map(([slot, n]) => ({ network: n.network!, mac: macs[slot] }));
      try {
        observed.outputs.ipAddress = await waitForIp(client, nics, spec.waitForIp.timeoutSeconds, ctx);
      } catch (error) {
        throw new PartialCreateError(dom.uuid, observed.outputs, message(error));
      }
    }
    return observed;
  }

  private async observe(client: LibvirtClient, dom: DomainRef, last: Spec, listedState?: number): Promise<Observed<Spec>> {
    const { xml } = await client.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE });
    const parsed = parseDomainXml(xml);
    const state = listedState ?? (await domainState(client, dom));
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
   * A host change: a running (or paused) VM migrates live, peer-to-peer, to the other libvirt
   * host; a stopped VM's definition moves instead. The rest of the update then runs there.
   * Disks must be reachable under the same paths on both hosts (shared storage): libvirt
   * refuses the move otherwise and the VM stays where it was.
   */
  private async migrateThenUpdate(id: string, old: Spec, next: Spec, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Spec>> {
    const target = await ctx.connect(next.host);
    const targetSession = libvirtSessionOf(target);
    if (!targetSession || target.config.driver !== "libvirt") throw new Error(`host: "${next.host}" is not a libvirt host; moving across hypervisor kinds replaces the VM`);
    const client = await this.session.get();
    const targetClient = await targetSession.get();
    const found = await orAbsent(client.call("domainLookupByUuid", { uuid: id }));
    let migration: MigrationResult | undefined;
    if (!found) {
      // An earlier run died after the move but before Pulumi recorded it, or someone moved it by
      // hand: carry on from where it is instead of failing every later `up`.
      if (!(await orAbsent(targetClient.call("domainLookupByUuid", { uuid: id })))) {
        throw new Error(`VM "${next.name}" (uuid ${id}) is on neither host "${old.host}" nor host "${next.host}"`);
      }
      ctx.progress(`already on ${next.host}; nothing to move`);
    } else if ((await domainState(client, found.dom)) !== DomainState.shutoff) {
      const dom = found.dom;
      const destinationUri = peerUriOf(next.host, target.config);
      // libvirt refuses to migrate a domain with snapshot records: they are set aside, and
      // redefined on whichever host the VM is on afterwards, so a move never loses them.
      const snapshots = await readSnapshotRecords(client, dom);
      if (snapshots.xmls.length > 0) ctx.progress(`carrying ${snapshots.xmls.length} snapshot record(s) along`);
      await forgetSnapshotRecords(client, dom, snapshots);
      try {
        migration = await migrateLive(client, dom, {
          destinationUri,
          migrateUri: target.config.migrationUri,
          destination: targetClient,
          maxDowntimeMs: downtimeCapFor(MAX_DOWNTIME_MS, old.memory.sizeMiB),
          allowPostCopy: next.updatePolicy.allowPostCopy === true,
          deadline: ctx.deadline,
          progress: ctx.progress,
        });
      } catch (error) {
        await defineSnapshotRecords(client, dom, snapshots).catch(() => undefined);
        const hint = error instanceof Error ? migrationFixHint(error.message, { target: next.host, destinationUri, migrateUri: target.config.migrationUri }) : undefined;
        throw hint ? new Error(`${error instanceof Error ? error.message : error}; ${hint}`, { cause: error }) : error;
      }
      const arrived = await targetClient.call("domainLookupByUuid", { uuid: id });
      await defineSnapshotRecords(targetClient, arrived.dom, snapshots);
    } else {
      await moveDefinition(client, targetClient, found.dom, next.host, ctx);
    }
    const moved = { ...old, host: next.host };
    const rest: ChangePlan = { ...plan, changes: plan.changes.filter((c) => c.path !== "host") };
    const targetOps = target.resource("VirtualMachine")!;
    const observed = rest.changes.length > 0 ? await targetOps.update(id, moved, next, rest, ctx) : await targetOps.read(id, next);
    if (!observed) throw new Error(`the VM did not arrive on ${next.host}`);
    if (migration) observed.outputs.migration = { ...migration };
    return observed;
  }
}

/**
 * In a peer-to-peer migration the source libvirtd itself connects to the destination, so the
 * destination needs a URI that names it from elsewhere; `qemu:///system` would lead the
 * source back to itself. Checked before anything moves.
 */
function peerUriOf(host: string, config: HostConfig): string {
  if (config.driver !== "libvirt") throw new Error(`host: "${host}" is not a libvirt host`);
  const uri = config.peerUri ?? config.uri;
  const peerHost = parseLibvirtUri(uri).host;
  if (!peerHost || /^(localhost|127\.[\d.]+|\[?::1\]?)$/i.test(peerHost)) {
    throw new Error(
      `host: cannot migrate to "${host}": its uri ${uri} is local to this machine, and from the source host it would name the source itself; ` +
        `set peerUri in its novacron:hosts entry to a URI they can reach (e.g. qemu+tcp://<address>/system). Nothing was moved`,
    );
  }
  return uri;
}

/** Switchover pause we accept; QEMU's own default (300 ms) is noticeable to latency-sensitive guests. */
const MAX_DOWNTIME_MS = 200;

function libvirtSessionOf(driver: Driver): LibvirtSession | undefined {
  if (driver.kind !== "libvirt" || !("session" in driver)) return undefined;
  return driver.session instanceof LibvirtSession ? driver.session : undefined;
}

/**
 * A stopped VM has no memory to move, only its definition: defined on the target first and
 * undefined on the source after, so a failure in between leaves it defined twice (the next
 * `up` finds it on the target) rather than nowhere.
 */
async function moveDefinition(source: LibvirtClient, target: LibvirtClient, dom: DomainRef, targetHost: string, ctx: OperationContext): Promise<void> {
  ctx.progress(`moving the stopped VM's definition to ${targetHost}`);
  // SECURE: console passwords are part of the definition and must travel with it.
  const { xml } = await source.call("domainGetXmlDesc", { dom, flags: XML_INACTIVE | XML_SECURE });
  const clash = await orAbsent(target.call("domainLookupByName", { name: dom.name }));
  if (clash && clash.dom.uuid !== dom.uuid) {
    throw new Error(`host "${targetHost}" already has a different VM named "${dom.name}" (uuid ${clash.dom.uuid}); the VM stays where it is`);
  }
  const { dom: defined } = await target.call("domainDefineXmlFlags", { xml, flags: DEFINE_VALIDATE });
  // The snapshot records go along before the source forgets them with its definition.
  const snapshots = await readSnapshotRecords(source, dom);
  if (snapshots.xmls.length > 0) ctx.progress(`carrying ${snapshots.xmls.length} snapshot record(s) along`);
  await defineSnapshotRecords(target, defined, snapshots);
  try {
    await source.call("domainUndefineFlags", { dom, flags: UNDEFINE_ALL });
  } catch (error) {
    if (!(error instanceof LibvirtError && (error.isUnsupported() || error.isInvalidArg()))) throw error;
    await orAbsent(source.call("domainUndefine", { dom }));
  }
}

/** Every file the definition uses as a disk or as the cloud-init seed. */
function attachedPaths(parsed: ParsedDomain): Set<string> {
  const paths = new Set<string>();
  for (const disk of Object.values(parsed.disks)) if (disk.source.kind === "file") paths.add(disk.source.path);
  if (parsed.cloudInitSeed) paths.add(parsed.cloudInitSeed);
  return paths;
}

function outputsOf(parsed: ParsedDomain, state: number): Record<string, unknown> {
  return { uuid: parsed.uuid, state: stateName(state), macAddresses: parsed.macs, unmanaged: parsed.preserved.summary };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
