// The Container model ↔ PVE's LXC config (pct.conf as /nodes/{node}/lxc/{vmid}/config shows it).
import { showValue, type InputFailure } from "../../../core/errors";
import type { ContainerSpec } from "../../../core/model";
import { containsUnknown } from "../../../core/unknown";
import { descriptionFor, labelsOf, tagsOf, withOwnerTag } from "../vm/marker";
import { formatProps, parseProps, sizeToGiB } from "../vm/property-string";

type Spec = ContainerSpec;
export type CtConfig = Record<string, string | number | undefined>;

/** PVE's `pve-storage-id`, the part before the colon of a volume id. */
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const VOLUME_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i;

/** What PVE alone would refuse, said before anything is sent (check() runs it too). */
export function containerProblems(spec: Spec): InputFailure[] {
  const out: InputFailure[] = [];
  const volumeLike = (property: string, value: string | undefined, what: string) => {
    if (value !== undefined && !containsUnknown(value) && !VOLUME_ID.test(value))
      out.push({
        property,
        reason: `got ${showValue(value)}; Proxmox VE takes ${what} as a volume id storage:name, such as "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"`,
      });
  };
  const storage = (property: string, value: string | undefined) => {
    if (value !== undefined && !containsUnknown(value) && !STORAGE_ID.test(value))
      out.push({ property, reason: `got ${showValue(value)}; a Proxmox VE storage id is letters, digits, - _ . starting with a letter` });
  };
  volumeLike("template", spec.template, "an OS template");
  volumeLike("restoreFrom", spec.restoreFrom, "a backup archive");
  if (spec.template !== undefined && !containsUnknown(spec.template) && VOLUME_ID.test(spec.template) && !/^[^:]+:vztmpl\//.test(spec.template))
    out.push({ property: "template", reason: `got ${showValue(spec.template)}; an OS template lives in a storage's vztmpl/ folder ("local:vztmpl/…")` });
  storage("rootfs.pool", spec.rootfs.pool);
  volumeLike("rootfs.volume", spec.rootfs.volume, "the root file system");
  for (const [slot, mp] of Object.entries(spec.mountPoints)) {
    storage(`mountPoints.${slot}.pool`, mp.pool);
    volumeLike(`mountPoints.${slot}.volume`, mp.volume, "a mount point's volume");
  }
  for (const [slot, nic] of Object.entries(spec.nics)) {
    if (!containsUnknown(nic.bridge) && !/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(nic.bridge))
      out.push({ property: `nics.${slot}.bridge`, reason: `got ${showValue(nic.bridge)}; a Proxmox VE bridge is a Linux interface name such as vmbr0 (at most 15 characters)` });
  }
  const names = new Map<string, string>();
  for (const [slot, nic] of Object.entries(spec.nics)) {
    const name = nic.name ?? `eth${slot.slice(3)}`;
    const other = names.get(name);
    if (other) out.push({ property: `nics.${slot}.name`, reason: `"${name}" is already the name of ${other}'s interface` });
    names.set(name, slot);
  }
  if (spec.restoreFrom !== undefined && spec.sshPublicKeys.length > 0)
    out.push({ property: "sshPublicKeys", reason: "a restore brings the archive's own keys; Proxmox VE sets keys only when creating from a template" });
  return out;
}

/** Where each PVE parameter came from in the model, for PVE's field errors in our words. */
export type Origin = Record<string, string>;

function mountValue(target: { pool?: string; sizeGiB?: number; volume?: string }, props: [string, string | number | undefined][]): string {
  // A new volume is `STORAGE:SIZE` in GiB; PVE allocates it and writes its volume id back.
  const head = target.volume ?? `${target.pool}:${target.sizeGiB}`;
  return formatProps(head, props);
}

function netValue(slot: string, nic: Spec["nics"][string]): string {
  return formatProps(undefined, [
    ["name", nic.name ?? `eth${slot.slice(3)}`],
    ["bridge", nic.bridge],
    ["hwaddr", nic.mac?.toUpperCase()],
    ["ip", nic.ip],
    ["gw", nic.gateway],
    ["tag", nic.vlan],
    ["firewall", nic.firewall ? 1 : undefined],
    ["rate", nic.rateMBps],
    ["type", "veth"],
  ]);
}

function featuresValue(f: Spec["features"]): string | undefined {
  const on = (Object.entries(f) as [string, boolean][]).filter(([, v]) => v);
  return on.length ? on.map(([k]) => `${k}=1`).join(",") : undefined;
}

/** The config keys a spec sets (not create-only parameters), with their origin. */
function configParams(spec: Spec, current?: CtConfig): { params: Record<string, string | number>; origin: Origin } {
  const params: Record<string, string | number> = {};
  const origin: Origin = {};
  const set = (key: string, value: string | number | undefined, from: string) => {
    if (value === undefined) return;
    params[key] = value;
    origin[key] = from;
  };
  set("hostname", spec.name, "name");
  set("cores", spec.cpu.cores, "cpu.cores");
  set("cpulimit", spec.cpu.limit, "cpu.limit");
  set("cpuunits", spec.cpu.units, "cpu.units");
  set("memory", spec.memory.sizeMiB, "memory.sizeMiB");
  set("swap", spec.memory.swapMiB, "memory.swapMiB");
  set("onboot", spec.onBoot ? 1 : 0, "onBoot");
  set("features", featuresValue(spec.features), "features");
  set("tags", withOwnerTag(current?.tags === undefined ? undefined : String(current.tags)), "labels");
  set("description", descriptionFor(spec.labels), "labels");
  for (const [slot, nic] of Object.entries(spec.nics)) set(slot, netValue(slot, nic), `nics.${slot}`);
  return { params, origin };
}

export function createParams(spec: Spec): { params: Record<string, string | number>; origin: Origin } {
  const { params, origin } = configParams(spec);
  const add = (key: string, value: string | number | undefined, from: string) => {
    if (value === undefined) return;
    params[key] = value;
    origin[key] = from;
  };
  add("ostemplate", spec.template ?? spec.restoreFrom, spec.template !== undefined ? "template" : "restoreFrom");
  if (spec.restoreFrom !== undefined) add("restore", 1, "restoreFrom");
  add("unprivileged", spec.unprivileged ? 1 : 0, "unprivileged");
  add("rootfs", mountValue(spec.rootfs, []), "rootfs");
  for (const [slot, mp] of Object.entries(spec.mountPoints)) add(slot, mpValue(mp), `mountPoints.${slot}`);
  if (spec.sshPublicKeys.length > 0) add("ssh-public-keys", spec.sshPublicKeys.join("\n"), "sshPublicKeys");
  return { params, origin };
}

function mpValue(mp: Spec["mountPoints"][string]): string {
  return mountValue(mp, [
    ["mp", mp.path],
    ["ro", mp.readOnly ? 1 : undefined],
    ["backup", mp.backup ? 1 : undefined],
  ]);
}

export interface CtUpdate {
  params: Record<string, string | number>;
  deletes: string[];
  origin: Origin;
  /** Mount keys (rootfs, mpN) → the new size in GiB, for PUT …/resize. */
  resizes: Record<string, number>;
}

/** The keys whose meaning changed between the current config and `next`; growth goes through resize. */
export function updateParams(old: Spec, next: Spec, current: CtConfig): CtUpdate {
  const want = configParams(next, current);
  const params: Record<string, string | number> = {};
  const deletes: string[] = [];
  const resizes: Record<string, number> = {};
  for (const [key, value] of Object.entries(want.params)) {
    if (!sameValue(key, current[key], value)) params[key] = value;
  }
  for (const key of ["cpulimit", "cpuunits", "features"]) {
    if (want.params[key] === undefined && current[key] !== undefined) deletes.push(key);
  }
  for (const slot of Object.keys(old.nics)) if (!(slot in next.nics) && current[slot] !== undefined) deletes.push(slot);
  for (const slot of Object.keys(old.mountPoints)) if (!(slot in next.mountPoints) && current[slot] !== undefined) deletes.push(slot);
  for (const [slot, mp] of Object.entries(next.mountPoints)) {
    const was = current[slot];
    if (was === undefined) {
      params[slot] = mpValue(mp);
      want.origin[slot] = `mountPoints.${slot}`;
      continue;
    }
    // An existing mount point keeps its volume; only its options are rewritten.
    const parsed = parseProps(String(was));
    const value = formatProps(parsed.head, [
      ["mp", mp.path],
      ["ro", mp.readOnly ? 1 : undefined],
      ["backup", mp.backup ? 1 : undefined],
      ["size", parsed.props.get("size")],
    ]);
    if (!sameValue(slot, was, value)) {
      params[slot] = value;
      want.origin[slot] = `mountPoints.${slot}`;
    }
    const had = sizeToGiB(parsed.props.get("size"));
    if (mp.sizeGiB !== undefined && (had === undefined || mp.sizeGiB > had)) resizes[slot] = mp.sizeGiB;
  }
  const rootSize = sizeToGiB(parseProps(String(current.rootfs ?? "")).props.get("size"));
  if (next.rootfs.sizeGiB !== undefined && rootSize !== undefined && next.rootfs.sizeGiB > rootSize) resizes.rootfs = next.rootfs.sizeGiB;
  return { params, deletes, origin: want.origin, resizes };
}

/** Equal by meaning: property strings compare as sets of key=value, numbers as numbers. */
function sameValue(key: string, current: string | number | undefined, wanted: string | number): boolean {
  if (current === undefined) return false;
  if (key === "tags") return tagsOf(String(current)).sort().join(";") === tagsOf(String(wanted)).sort().join(";");
  if (typeof wanted === "number" || /^\d+(\.\d+)?$/.test(String(current))) return Number(current) === Number(wanted);
  const a = parseProps(String(current));
  const b = parseProps(String(wanted));
  if (a.head !== b.head || a.props.size !== b.props.size) return false;
  for (const [k, v] of b.props) if ((a.props.get(k) ?? "").toLowerCase() !== v.toLowerCase()) return false;
  return true;
}

/**
 * The spec PVE holds, in the model's terms. `last` supplies what the config cannot show: the
 * template or archive it was made from, creation-only keys, and whether a volume was asked for
 * as pool + size (read back in that form while it stays on that pool).
 */
export function specFromConfig(config: CtConfig, running: boolean, last: Spec): { spec: Spec; macs: Record<string, string> } {
  const features = parseProps(String(config.features ?? "")).props;
  const macs: Record<string, string> = {};
  const nics: Spec["nics"] = {};
  for (const [key, value] of Object.entries(config)) {
    if (!/^net\d+$/.test(key) || value === undefined) continue;
    const p = parseProps(String(value)).props;
    const hw = p.get("hwaddr");
    if (hw) macs[key] = hw.toLowerCase();
    const given = last.nics[key];
    const ip = p.get("ip") ?? "manual";
    const name = p.get("name");
    nics[key] = {
      ...(name !== undefined && name !== `eth${key.slice(3)}` ? { name } : given?.name !== undefined ? { name: given.name } : {}),
      bridge: p.get("bridge") ?? "",
      // A MAC PVE picked stays an output, unless the user fixed one.
      ...(given?.mac !== undefined && hw ? { mac: hw.toLowerCase() } : {}),
      ip: ip === "dhcp" || ip === "manual" || /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(ip) ? ip : "manual",
      ...(p.get("gw") ? { gateway: p.get("gw") } : {}),
      ...(p.get("tag") ? { vlan: Number(p.get("tag")) } : {}),
      firewall: p.get("firewall") === "1",
      ...(p.get("rate") ? { rateMBps: Number(p.get("rate")) } : {}),
    };
  }
  const mountPoints: Spec["mountPoints"] = {};
  for (const [key, value] of Object.entries(config)) {
    if (!/^mp\d+$/.test(key) || value === undefined) continue;
    const { head, props } = parseProps(String(value));
    mountPoints[key] = {
      ...volumeForm(head ?? props.get("volume") ?? "", props.get("size"), last.mountPoints[key]),
      path: props.get("mp") ?? "/",
      readOnly: props.get("ro") === "1",
      backup: props.get("backup") === "1",
    };
  }
  const root = parseProps(String(config.rootfs ?? ""));
  const spec: Spec = {
    ...last,
    name: String(config.hostname ?? last.name),
    cpu: {
      cores: Number(config.cores ?? last.cpu.cores),
      ...(config.cpulimit !== undefined ? { limit: Number(config.cpulimit) } : {}),
      ...(config.cpuunits !== undefined ? { units: Number(config.cpuunits) } : {}),
    },
    memory: { sizeMiB: Number(config.memory ?? 512), swapMiB: Number(config.swap ?? 512) },
    rootfs: volumeForm(root.head ?? root.props.get("volume") ?? "", root.props.get("size"), last.rootfs),
    mountPoints,
    nics,
    unprivileged: Number(config.unprivileged ?? 0) === 1,
    features: { nesting: features.get("nesting") === "1", keyctl: features.get("keyctl") === "1", fuse: features.get("fuse") === "1" },
    onBoot: Number(config.onboot ?? 0) === 1,
    powerState: running ? "running" : "stopped",
    labels: labelsOf(config.description === undefined ? undefined : String(config.description)),
  };
  return { spec, macs };
}

/** A volume asked for as pool + size reads back so while it is on that pool; otherwise by id. */
function volumeForm(
  volume: string,
  size: string | undefined,
  given: { pool?: string; sizeGiB?: number; volume?: string } | undefined,
): { pool?: string; sizeGiB?: number; volume?: string } {
  const gib = sizeToGiB(size);
  const storage = volume.split(":")[0];
  if (given?.pool !== undefined && given.pool === storage) return { pool: storage, sizeGiB: gib ?? given.sizeGiB };
  return { volume };
}
