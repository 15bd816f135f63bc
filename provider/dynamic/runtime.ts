import type * as pulumi from "@pulumi/pulumi";
import { checkInputs, withoutInternalKeys } from "../core/check";
import { classifyChange, describePlan, type ChangePlan } from "../core/classify";
import type { Driver, Observed, OperationContext, ResourceDriver } from "../core/driver";
import { InputError, PartialCreateError } from "../core/errors";
import { hostEntry } from "../core/hosts";
import { decideOnFound, describeObject, keepOnDestroy } from "../core/ownership";
import { redact, redactError, valuesAtPaths, wrapSecretInputs } from "../core/redact";
import { COMPUTED_OUTPUTS, RESOURCE_MODELS, type ResourceKind, type VirtualMachineSpec } from "../core/model";
import { parseRecorded } from "../core/recorded";
import { containsUnknown } from "../core/unknown";
import { capabilitiesOf, openDriver } from "../drivers/registry";
import { movedByInterruptedRun, moveVmAcrossKinds } from "./cross-move";
import { configureHosts, currentHosts } from "./hosts";
import { progressFor } from "./progress";

/**
 * The implementation behind every NovaCron dynamic provider. The serialized provider objects
 * only `require()` this module, so provider code is always the code on disk, never a stale
 * copy from state.
 */
type Props = Record<string, unknown>;

/** Deadline for one operation when the spec sets none (Pulumi's customTimeouts never reach us). */
const DEFAULT_DEADLINE_SECONDS = Number(process.env.NOVACRON_OPERATION_TIMEOUT_SECONDS ?? 1800);

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  configureHosts(req.config);
}

export async function check(kind: ResourceKind, olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
  try {
    const outcome = checkInputs(kind, olds, news, currentHosts(), capabilitiesOf);
    return { inputs: secretsWrapped(kind, plain(outcome.inputs)), failures: outcome.failures };
  } catch (error) {
    // check() must answer with failures, never a stack trace (e.g. a malformed hosts config).
    const message = error instanceof Error ? error.message : String(error);
    return { inputs: news, failures: [{ property: "host", reason: redact(message, secretValuesOf(kind, news)) }] };
  }
}

export async function diff(kind: ResourceKind, _id: string, olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
  const plan = planChange(kind, olds, news);
  return {
    changes: plan.changes.length > 0,
    replaces: plan.replaces,
    // Names identify objects on a hypervisor: the old one must go before its replacement appears.
    deleteBeforeReplace: plan.replaces.length > 0,
  };
}

async function createUnredacted(kind: ResourceKind, inputs: Props): Promise<pulumi.dynamic.CreateResult> {
  const spec = parseSpec(kind, inputs);
  const { driver, ops } = await resolve(kind, spec.host as string);
  const ctx = operationContext(kind, spec);
  const existing = await ops.find(spec);
  let observed: Observed<Props>;
  try {
    if (existing) {
      // Only NovaCron's own mark makes an object ours; anything else needs the user's adopt: true.
      const decision = decideOnFound(kind, spec, existing, describeObject(kind, spec), driver.host);
      // A previous run died after creating it: converge instead of duplicating. Updated even
      // when nothing differs: the interrupted run may have stopped before the power state or
      // the IP wait, and update converges those too.
      ctx.progress(
        decision === "adopt"
          ? "adopting the existing object (adopt: true); it is left in place on destroy unless deleteOnDestroy: true"
          : "found from an earlier interrupted run (it carries NovaCron's mark); converging it",
      );
      const plan = classifyChange(kind, existing.spec as Props, spec, capabilitiesOf(driver.kind));
      try {
        observed = await ops.update(existing.id, existing.spec, spec, plan, ctx);
      } catch (error) {
        // The adopted object exists whatever went wrong: record it rather than lose track of it.
        if (error instanceof PartialCreateError) throw error;
        throw new PartialCreateError(existing.id, existing.outputs, error instanceof Error ? error.message : String(error));
      }
    } else {
      observed = await ops.create(spec, ctx);
    }
  } catch (error) {
    if (!(error instanceof PartialCreateError)) throw error;
    // The provider host reads id/properties/reasons off the error: the half-made object is
    // recorded in state, and the next `up` updates it instead of creating a second one.
    throw Object.assign(new Error(error.message), {
      id: error.id,
      properties: wrapSecretInputs(plain({ ...spec, ...error.outputs, ...hostIdOutput(kind, error.id) }), RESOURCE_MODELS[kind].secrets),
      reasons: [error.message],
    });
  }
  return { id: observed.id, outs: secretsWrapped(kind, plain(withEveryOutput(kind, outputsOf(kind, spec, observed), {}))) };
}

async function readUnredacted(kind: ResourceKind, id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
  const last = recordedSpec(kind, props, "refresh");
  const { driver, ops } = await resolve(kind, last.host as string);
  const vmId = hostIdOf(kind, id, props);
  let observed = await ops.read(vmId, last, { hosts: currentHosts() });
  if (kind === "VirtualMachine" && !observed) {
    // Gone from its host because a cross-hypervisor move finished there unrecorded (its journal says where).
    observed = (await movedByInterruptedRun(vmId, last as unknown as VirtualMachineSpec)) as unknown as Observed<Props> | undefined;
  }
  if (kind === "VirtualMachine" && driver.vmIdsAreGlobal && (!observed || observed.spec.powerState === "stopped")) {
    observed = (await findMovedVm(vmId, last, driver, observed !== undefined)) ?? observed;
  }
  if (!observed) return { id: "", props: {} };
  const spec = representable(kind, observed.spec);
  // Drift shows up as changed inputs, so the next `up` converges back to the program. The id
  // returned is the host's: a refresh after a cross-hypervisor move makes it the resource id.
  return { id: observed.id, props: secretsWrapped(kind, plain(withEveryOutput(kind, outputsOf(kind, spec, observed), props))), inputs: secretsWrapped(kind, plain(spec)) };
}

/**
 * A VM may have been migrated outside Pulumi (virsh migrate, a host evacuation): it is gone
 * from its recorded host, or only a stopped copy is left there (a migration that kept the
 * source's definition). Refresh then records the host it runs on, so the next `up` plans the
 * way back as a migration, never a second VM and never a start of the stale copy beside it.
 * A VM with no copy left is recorded as deleted only when every other host could be searched.
 */
async function findMovedVm(id: string, last: Props, recorded: Driver, stoppedCopyLeft: boolean): Promise<Observed<Props> | undefined> {
  const progress = progressFor(`VirtualMachine ${String(last.name ?? "")}`.trim());
  const unsearched: string[] = [];
  for (const [name, config] of Object.entries(currentHosts())) {
    if (name === recorded.host || config.driver !== recorded.kind) continue;
    try {
      const { ops } = await resolve("VirtualMachine", name);
      const found = await ops.read(id, { ...last, host: name });
      if (found && !(stoppedCopyLeft && found.spec.powerState === "stopped")) {
        progress(`found on host "${name}" (moved outside Pulumi); ${stoppedCopyLeft ? `the copy on "${recorded.host}" is stopped` : `it is gone from "${recorded.host}"`}`);
        return { ...found, spec: { ...found.spec, host: name } };
      }
    } catch (error) {
      unsearched.push(`"${name}" (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (!stoppedCopyLeft && unsearched.length > 0) {
    throw new Error(
      `VM ${id} is gone from host "${recorded.host}", and it may run on a host that could not be searched: ${unsearched.join("; ")}. ` +
        "It is not recorded as deleted; refresh again once those hosts answer, or remove them from novacron:hosts",
    );
  }
  return undefined;
}

async function updateUnredacted(kind: ResourceKind, id: string, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
  const old = recordedSpec(kind, olds, "update");
  const next = parseSpec(kind, news);
  const vmId = hostIdOf(kind, id, olds);
  const plan = planChange(kind, olds, news);
  const ctx = operationContext(kind, next);
  const hosts = currentHosts();
  const crossesKinds = kind === "VirtualMachine" && old.host !== next.host && hostEntry(hosts, old.host)?.driver !== hostEntry(hosts, next.host)?.driver;
  ctx.progress(`applying ${plan.worst} change: ${describePlan(plan).join("; ")}`);
  // A move across hypervisor kinds is never handed to a driver's own migration: the executor
  // copies the disks and makes the VM anew (check() refuses pairs without a data path).
  const observed = crossesKinds
    ? ((await moveVmAcrossKinds(vmId, old as unknown as VirtualMachineSpec, next as unknown as VirtualMachineSpec, ctx)) as unknown as Observed<Props>)
    : followsToHost(plan, old, next)
      ? await updateWhereItIsNow(kind, id, old, next, plan, ctx)
      : await (await resolve(kind, old.host as string)).ops.update(vmId, old, next, plan, ctx);
  // Only kinds that declare these outputs get them: anything else in state fails the next parse (read, delete).
  // A driver may report a harsher class than planned (the server forced a restart).
  const applied = typeof observed.outputs.lastChangeClass === "string" ? observed.outputs.lastChangeClass : plan.worst;
  const change = COMPUTED_OUTPUTS[kind].includes("lastChange") ? { lastChange: describePlan(plan), lastChangeClass: applied } : {};
  return { outs: secretsWrapped(kind, plain(withEveryOutput(kind, { ...outputsOf(kind, next, observed), ...change }, olds))) };
}

/**
 * A snapshot or volume whose host changes only because its VM moved (classified "none": the
 * hypervisor took it along, or the storage is shared) is read and updated where it is now.
 * Nothing is made or deleted; if it is not there, the user is told instead of a retake.
 */
function followsToHost(plan: ChangePlan, old: Props, next: Props): boolean {
  return old.host !== next.host && plan.changes.some((c) => c.path === "host" && c.disruption === "none");
}

async function updateWhereItIsNow(kind: ResourceKind, id: string, old: Props, next: Props, plan: ChangePlan, ctx: OperationContext): Promise<Observed<Props>> {
  const { ops } = await resolve(kind, next.host as string);
  const moved = { ...old, host: next.host };
  if (!(await ops.read(id, moved))) {
    throw new Error(
      `host: ${kind} "${String(next.name)}" (${id}) is not on host "${String(next.host)}". It follows its VM or its storage and is never made again by a host change ` +
        `(that would lose what it holds): move the VM first, make the storage reachable from "${String(next.host)}", or set host back to "${String(old.host)}"`,
    );
  }
  return ops.update(id, moved, next, plan, ctx);
}

async function removeUnredacted(kind: ResourceKind, id: string, props: Props): Promise<void> {
  // Delete needs the id, the host and the shutdown settings; nothing else recorded may block it.
  const spec = recordedSpec(kind, props, "delete");
  const ctx = operationContext(kind, spec);
  if (keepOnDestroy(spec)) {
    ctx.progress("adopted, not made by NovaCron: left in place (set deleteOnDestroy: true to delete it)");
    return;
  }
  const { ops } = await resolve(kind, spec.host as string);
  await ops.delete(hostIdOf(kind, id, props), spec, ctx);
}

function planChange(kind: ResourceKind, olds: Props, news: Props): ChangePlan {
  const hosts = currentHosts();
  const old = pickInputs(kind, olds);
  const next = pickInputs(kind, news);
  const nextHost = hostEntry(hosts, next.host) ?? hostEntry(hosts, old.host);
  const oldHost = hostEntry(hosts, old.host) ?? nextHost;
  if (!nextHost || !oldHost) throw new Error(`host "${String(next.host)}" is not in the stack config novacron:hosts`);
  return classifyChange(kind, old, next, capabilitiesOf(nextHost.driver), oldHost.driver !== nextHost.driver);
}

/**
 * The input part of recorded outputs. Both sides were normalised by check() already, so no
 * second parse: diff runs for every resource on every preview.
 */
function pickInputs(kind: ResourceKind, props: Props): Props {
  return withoutInternalKeys(stripOutputs(kind, props));
}

/**
 * Earlier versions recorded these on every kind's update; stacks that still hold them on a
 * Network or Volume must stay readable, so they are stripped whatever the kind declares.
 */
const UPDATE_RECORD_KEYS = ["lastChange", "lastChangeClass"];

function stripOutputs(kind: ResourceKind, props: Props): Props {
  const outputs = COMPUTED_OUTPUTS[kind];
  return Object.fromEntries(Object.entries(props).filter(([k]) => !outputs.includes(k) && !UPDATE_RECORD_KEYS.includes(k)));
}

function parseSpec(kind: ResourceKind, props: Props): Props {
  const parsed = RESOURCE_MODELS[kind].schema.safeParse(withoutInternalKeys(stripOutputs(kind, props)));
  if (!parsed.success) {
    throw new InputError(
      kind,
      parsed.error.issues.map((i) => ({ property: i.path.join("."), reason: i.message })),
    );
  }
  return parsed.data as Props;
}

/**
 * What the stack recorded, read leniently: a state an older or buggier version wrote must stay
 * refreshable, updatable and destroyable. Parts the model refuses are left out with a warning.
 */
function recordedSpec(kind: ResourceKind, props: Props, operation: string): Props {
  const { spec, notUnderstood } = parseRecorded(kind, withoutInternalKeys(stripOutputs(kind, props)));
  if (notUnderstood.length > 0) {
    progressFor(`${kind} ${String(spec.name ?? "")}`.trim())(`warning: ${operation} goes on without recorded parts this version does not accept: ${notUnderstood.join("; ")}`);
  }
  return spec;
}

/**
 * The invariant behind every refresh: what read() records must parse at the next read, update and
 * delete. A driver that reports something the model refuses is a bug, but it must not wedge the
 * stack: the refused part is left out of state (it stays on the host untouched) with a warning.
 */
function representable(kind: ResourceKind, observed: Props): Props {
  if (RESOURCE_MODELS[kind].schema.safeParse(observed).success) return observed;
  const { spec, notUnderstood } = parseRecorded(kind, observed);
  progressFor(`${kind} ${String(spec.name ?? "")}`.trim())(`warning: the host holds what the model cannot express; not recorded: ${notUnderstood.join("; ")}`);
  return spec;
}

/**
 * Pulumi's dynamic provider host prints every error of read and delete with its stack; a user
 * needs the message, which names what failed. Frames stay available with NOVACRON_DEBUG=1.
 */
function withoutStackTrace<A extends unknown[], R>(operation: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await operation(...args);
    } catch (error) {
      if (error instanceof Error && !process.env.NOVACRON_DEBUG) error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
  };
}

async function resolve(kind: ResourceKind, host: string) {
  const config = hostEntry(currentHosts(), host);
  if (!config) throw new Error(`host "${host}" is not in the stack config novacron:hosts`);
  const driver = await openDriver(host, config);
  // The runtime handles every kind through one path, so specs are plain records here; each
  // driver receives exactly the schema's output for its kind.
  const ops = driver.resource(kind) as unknown as ResourceDriver<Props> | undefined;
  if (!ops) throw new Error(`${kind} is not available on ${capabilitiesOf(config.driver).product} host "${host}"`);
  return { driver, ops };
}

function operationContext(kind: ResourceKind, spec: Props): OperationContext {
  return {
    progress: redactingProgress(progressFor(`${kind} ${String(spec.name ?? "")}`.trim()), secretValuesOf(kind, spec)),
    deadline: Date.now() + DEFAULT_DEADLINE_SECONDS * 1000,
    connect: async (host: string) => {
      const config = hostEntry(currentHosts(), host);
      if (!config) throw new Error(`host "${host}" is not in the stack config novacron:hosts`);
      return openDriver(host, config);
    },
  };
}

/** State = normalised inputs + what the hypervisor reported; secret inputs are marked secret by the sdk. */
function outputsOf(kind: ResourceKind, spec: Props, observed: Observed<Props>): Props {
  return { ...spec, ...observed.outputs, ...hostIdOutput(kind, observed.id) };
}

/**
 * A VM's id on its current host. An update cannot change a resource's id, so after a
 * cross-hypervisor move the resource id is still the old host's (a libvirt UUID where the VM is
 * now a vSphere `vm-42`) until the next refresh; every call addresses the VM by this output.
 */
function hostIdOf(kind: ResourceKind, id: string, props: Props): string {
  const recorded = kind === "VirtualMachine" ? props.hostId : undefined;
  return typeof recorded === "string" && recorded !== "" ? recorded : id;
}

function hostIdOutput(kind: ResourceKind, id: string): Props {
  return kind === "VirtualMachine" ? { hostId: id } : {};
}

/**
 * Every output the kind declares is recorded, as null when there is nothing to say: an output
 * missing from state is "unknown" to every later preview, so `lastChange` of a VM never updated
 * showed as changing on each preview, and a stack output of it warned about an undefined value.
 * Records of NovaCron's own operations, which no hypervisor reports back, are carried over.
 */
function withEveryOutput(kind: ResourceKind, outputs: Props, recorded: Props): Props {
  const complete = { ...outputs };
  for (const key of COMPUTED_OUTPUTS[kind]) {
    if (complete[key] === undefined) complete[key] = OPERATION_RECORDS.includes(key) ? (recorded[key] ?? null) : null;
  }
  return complete;
}

const OPERATION_RECORDS = ["lastChange", "lastChangeClass", "migration"];

/**
 * Every property holding a secret field (a VM's cloudInit, console) goes back to the engine as a
 * Pulumi secret, so the state records it encrypted whatever the program did: the sdk's own
 * wrapping, a plain value, a program in another language, a refresh. The engine hands secrets to
 * a dynamic provider as plain values (it accepts none), so nothing here reads them wrapped.
 */
function secretsWrapped(kind: ResourceKind, props: Props): Props {
  // A value still unknown at preview is never recorded; it stays the plain marker the engine expects.
  const paths = (RESOURCE_MODELS[kind]?.secrets ?? []).filter((p) => !containsUnknown(props[p.split(".")[0]]));
  return wrapSecretInputs(props, paths);
}

/** Protobuf Structs cannot carry `undefined`: optional fields the model left unset are dropped. */
function plain(props: Props): Props {
  return JSON.parse(JSON.stringify(props)) as Props;
}

/**
 * Every operation's error goes through the one redaction path (core/redact.ts): a daemon error
 * quoting our XML, a URL with a password, a failed create's message — none may show a secret
 * value of the resource's inputs or a host credential.
 */
function redacting<A extends [ResourceKind, ...unknown[]], R>(operation: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await operation(...args);
    } catch (error) {
      const [kind, ...rest] = args;
      throw redactError(
        error,
        rest.flatMap((arg) => (arg !== null && typeof arg === "object" ? secretValuesOf(kind, arg as Props) : [])),
      );
    }
  };
}

export const create = redacting(createUnredacted);
export const read = withoutStackTrace(redacting(readUnredacted));
export const update = withoutStackTrace(redacting(updateUnredacted));
export const remove = withoutStackTrace(redacting(removeUnredacted));

/** The values of the kind's secret fields in `props` (inputs or recorded state). */
function secretValuesOf(kind: ResourceKind, props: Props | null | undefined): string[] {
  return props !== null && typeof props === "object" ? valuesAtPaths(props, RESOURCE_MODELS[kind]?.secrets ?? []) : [];
}

function redactingProgress(progress: (message: string) => void, secrets: string[]): (message: string) => void {
  return (message) => progress(redact(message, secrets));
}
