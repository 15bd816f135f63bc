// Cloud-init on Proxmox VE: PVE builds the seed itself from config keys (qm(1), "Cloud-Init"):
// `ciuser`, `cipassword`, `sshkeys` (the keys, newline-separated, URL-encoded: the API's
// `urlencoded` format), `ipconfigN` (`ip=dhcp|CIDR,gw=…,ip6=dhcp|auto|CIDR,gw6=…`, N the NIC's
// index), and a `cloudinit` drive it writes the image to. Raw documents would need `cicustom`
// snippet files on the node, which the API cannot upload.
import type { VirtualMachineSpec } from "../../../core/model";
import { formatProps, parseProps } from "./property-string";

type Spec = VirtualMachineSpec;
type CloudInit = NonNullable<Spec["cloudInit"]>;
type Set = (key: string, value: string, origin: string) => void;

/** The IDE slot the cloudinit drive takes, as PVE's own GUI puts it. */
export const CLOUDINIT_DRIVE = "ide2";
/** Config keys this file manages besides the drive and ipconfigN. */
const KEYS = ["ciuser", "cipassword", "sshkeys"] as const;

/** Percent-encoding as PVE's `urlencoded` format decodes it: everything but letters, digits and `-_.~`. */
export function pveUrlEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The config keys of a spec's cloud-init (without the drive); `password` only when it is to be written. */
export function cloudInitKeys(ci: CloudInit, set: Set, writePassword: boolean): void {
  if (ci.user) {
    set("ciuser", ci.user.name, "cloudInit.user.name");
    if (ci.user.password !== undefined && writePassword) set("cipassword", ci.user.password, "cloudInit.user.password");
  }
  if (ci.sshKeys?.length) set("sshkeys", pveUrlEncode(`${ci.sshKeys.join("\n")}\n`), "cloudInit.sshKeys");
  for (const [slot, ip] of Object.entries(ci.ipConfig ?? {})) {
    const value = formatProps(undefined, [
      ["ip", ip.ipv4],
      ["gw", ip.gateway4],
      ["ip6", ip.ipv6],
      ["gw6", ip.gateway6],
    ]);
    if (value) set(`ipconfig${slot.slice(3)}`, value, `cloudInit.ipConfig.${slot}`);
  }
}

/** The keys an update removes: those the old spec set and the new one does not. */
export function cloudInitDeletes(old: CloudInit | undefined, next: CloudInit | undefined, current: Record<string, unknown>): string[] {
  const wanted = new Set<string>();
  if (next) cloudInitKeys(next, (k) => wanted.add(k), true);
  const had = new Set<string>();
  if (old) cloudInitKeys(old, (k) => had.add(k), true);
  const out = [...had].filter((k) => !wanted.has(k) && current[k] !== undefined);
  if (!next?.user?.password && old?.user?.password && current.cipassword !== undefined) out.push("cipassword");
  if (!next && old && isCloudInitDrive(current[CLOUDINIT_DRIVE])) out.push(CLOUDINIT_DRIVE);
  return [...new Set(out)];
}

/** A cloudinit drive in the slot: PVE names it `vm-N-cloudinit`; any image drive there that is not an ISO counts (the testbed names it as a disk). */
export function isCloudInitDrive(value: unknown): boolean {
  if (value === undefined) return false;
  const { head, props } = parseProps(String(value));
  if (!head || head === "none" || head === "cdrom") return false;
  return /cloudinit/.test(head) || (props.get("media") === "cdrom" && !/:iso\//.test(head) && !/\.iso$/.test(head));
}

/** Whether any key PVE builds the seed from differs between two specs. */
export function cloudInitChanged(old: CloudInit | undefined, next: CloudInit | undefined): boolean {
  const text = (ci: CloudInit | undefined) => {
    const keys: string[] = [];
    if (ci) cloudInitKeys(ci, (k, v) => keys.push(`${k}=${v}`), true);
    return keys.sort().join("\n");
  };
  return text(old) !== text(next);
}

/**
 * The cloud-init PVE holds, as the model. The password is never shown by PVE (it answers a mask),
 * so the last spec's stands while `cipassword` is set; documents (userData…) are kept from `last`.
 */
export function cloudInitFromConfig(config: Record<string, string | number | undefined>, last: CloudInit | undefined): CloudInit | undefined {
  const ci: CloudInit = {};
  if (last?.userData !== undefined) ci.userData = last.userData;
  if (last?.metaData !== undefined) ci.metaData = last.metaData;
  if (last?.networkConfig !== undefined) ci.networkConfig = last.networkConfig;
  if (config.ciuser !== undefined) {
    ci.user = { name: String(config.ciuser), ...(config.cipassword !== undefined && last?.user?.password !== undefined ? { password: last.user.password } : {}) };
  }
  if (config.sshkeys !== undefined) {
    const keys = decodeURIComponent(String(config.sshkeys))
      .split("\n")
      .map((k) => k.trim())
      .filter((k) => k !== "");
    if (keys.length) ci.sshKeys = keys;
  }
  for (const key of Object.keys(config).filter((k) => /^ipconfig\d+$/.test(k))) {
    const { props } = parseProps(`x,${String(config[key])}`);
    const ip = {
      ...(props.has("ip") ? { ipv4: props.get("ip") } : {}),
      ...(props.has("gw") ? { gateway4: props.get("gw") } : {}),
      ...(props.has("ip6") ? { ipv6: props.get("ip6") } : {}),
      ...(props.has("gw6") ? { gateway6: props.get("gw6") } : {}),
    };
    ci.ipConfig = { ...ci.ipConfig, [`net${key.slice(8)}`]: ip };
  }
  return Object.keys(ci).length === 0 ? undefined : ci;
}

export const CLOUDINIT_KEYS = KEYS;
