import { ipv4ToNumber, numberToIpv4, parseCidr, type NetworkMode, type NetworkSpec } from "../../../core/model";
import { parseXml } from "./dom";
import { el, render, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import { bridgeNameFor } from "./bridge-name";
import { NETWORK_METADATA_NS, ownershipElement, parseOwnership, type Ownership, type ParsedOwnership } from "./metadata";
import { intAttr } from "./units";

export interface NetworkBuildContext {
  ownership: Ownership;
  /** Keeps a redefined network's identity. */
  uuid?: string;
}

const FORWARD_MODE: Record<NetworkMode, string | undefined> = {
  nat: "nat",
  routed: "route",
  isolated: undefined,
  bridge: "bridge",
  sriov: "hostdev",
};

function netmask(prefix: number): string {
  return numberToIpv4(prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix));
}

/** The DHCP range when the spec gives none (or half of one): the upper half of the subnet. */
export function defaultDhcpRange(cidr: string): { start: string; end: string } {
  const subnet = parseCidr(cidr);
  const size = 2 ** (32 - subnet.prefix);
  const start = Math.max(subnet.network + Math.floor(size / 2), subnet.first + 1);
  if (start > subnet.last) throw new LibvirtXmlError("dhcp", `${cidr} is too small to hand out addresses besides the host's own`);
  return { start: numberToIpv4(start), end: numberToIpv4(subnet.last) };
}

/** Fills in whichever end the spec leaves out; an explicit end below the upper half pulls the start down to the subnet's first free address. */
function dhcpRange(cidr: string, start: string | undefined, end: string | undefined): { start: string; end: string } {
  const fallback = defaultDhcpRange(cidr);
  const chosenEnd = end ?? fallback.end;
  const lowest = numberToIpv4(parseCidr(cidr).first + 1);
  const chosenStart = start ?? (ipv4ToNumber(chosenEnd) < ipv4ToNumber(fallback.start) ? lowest : fallback.start);
  return { start: chosenStart, end: chosenEnd };
}

function ipElement(spec: NetworkSpec): XmlElement | undefined {
  if (spec.cidr === undefined) return undefined;
  const subnet = parseCidr(spec.cidr);
  const range = spec.dhcp ? dhcpRange(spec.cidr, spec.dhcp.start, spec.dhcp.end) : undefined;
  return el(
    "ip",
    { address: numberToIpv4(subnet.first), netmask: netmask(subnet.prefix) },
    spec.dhcp &&
      range &&
      el("dhcp", {}, el("range", { start: range.start, end: range.end }), ...spec.dhcp.staticLeases.map((l) => el("host", { mac: l.mac, ip: l.ip, name: l.hostname }))),
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The network definition for `virNetworkDefineXML`. */
export function buildNetworkXml(spec: NetworkSpec, ctx: NetworkBuildContext): string {
  if (spec.vlan !== undefined && spec.mode !== "sriov") {
    throw new LibvirtXmlError("vlan", `libvirt accepts a network VLAN tag only for SR-IOV (hostdev) and Open vSwitch networks, not mode "${spec.mode}"`);
  }
  const mode = FORWARD_MODE[spec.mode];
  const routedLike = spec.mode === "nat" || spec.mode === "routed" || spec.mode === "isolated";
  const bridge = routedLike ? (spec.bridge ?? bridgeNameFor(spec.name)) : spec.bridge;
  const forward = spec.mode === "sriov" ? el("forward", { mode, managed: "yes" }, el("pf", { dev: spec.physicalFunction })) : mode !== undefined && el("forward", { mode });
  return render(
    el(
      "network",
      {},
      el("name", {}, spec.name),
      ctx.uuid !== undefined && el("uuid", {}, ctx.uuid),
      el("metadata", {}, ownershipElement(NETWORK_METADATA_NS, ctx.ownership, spec.labels)),
      forward,
      // stp off and no forward delay: a host-only bridge has no loops to learn, only a slower first lease.
      bridge !== undefined && el("bridge", routedLike ? { name: bridge, stp: "off", delay: 0 } : { name: bridge }),
      spec.vlan !== undefined && el("vlan", {}, el("tag", { id: spec.vlan })),
      ipElement(spec),
    ),
  );
}

export interface ParsedNetwork {
  name: string;
  uuid?: string;
  /** A model mode, or libvirt's forward mode when the model has none for it (open, passthrough, vepa …). */
  mode: NetworkMode | string;
  cidr?: string;
  /** The host's own address on the subnet. */
  address?: string;
  dhcp?: { start?: string; end?: string; staticLeases: { mac: string; ip: string; hostname?: string }[] };
  bridge?: string;
  physicalFunction?: string;
  vlan?: number;
  labels: Record<string, string>;
  ownership: ParsedOwnership;
}

const MODE_FROM_FORWARD: Record<string, NetworkMode> = { nat: "nat", route: "routed", bridge: "bridge", hostdev: "sriov" };

function prefixOf(netmaskText: string): number {
  const n = ipv4ToNumber(netmaskText);
  let bits = 0;
  while (bits < 32 && Math.floor(n / 2 ** (31 - bits)) % 2 === 1) bits++;
  return bits;
}

/** Reads any network XML; unknown elements (dns, mtu, port groups, IPv6) are ignored. */
export function parseNetworkXml(xml: string): ParsedNetwork {
  const net = parseXml(xml, "network");
  const forward = net.child("forward");
  const forwardMode = forward ? (forward.attr("mode") ?? "nat") : undefined;
  const mode = forwardMode === undefined ? "isolated" : (MODE_FROM_FORWARD[forwardMode] ?? forwardMode);
  const ip = net.all("ip").find((i) => (i.attr("family") ?? "ipv4") === "ipv4" && i.attr("address") !== undefined);
  const ownership = parseOwnership(net.child("metadata"), NETWORK_METADATA_NS);
  let cidr: string | undefined;
  if (ip) {
    const prefix = ip.attr("prefix") !== undefined ? Number(ip.attr("prefix")) : prefixOf(ip.attr("netmask") ?? "255.255.255.0");
    const size = 2 ** (32 - prefix);
    cidr = `${numberToIpv4(Math.floor(ipv4ToNumber(ip.attr("address") as string) / size) * size)}/${prefix}`;
  }
  const dhcp = ip?.child("dhcp");
  const range = dhcp?.child("range");
  const vlan = intAttr(net.child("vlan")?.child("tag"), "id");
  return {
    name: net.child("name")?.text ?? "",
    ...(net.child("uuid") ? { uuid: net.child("uuid")?.text } : {}),
    mode,
    ...(cidr !== undefined ? { cidr, address: ip?.attr("address") } : {}),
    ...(dhcp
      ? {
          dhcp: {
            ...stripUndefined({ start: range?.attr("start"), end: range?.attr("end") }),
            staticLeases: dhcp
              .all("host")
              .filter((h) => h.attr("ip") !== undefined && h.attr("mac") !== undefined)
              .map((h) => ({
                mac: (h.attr("mac") as string).toLowerCase(),
                ip: h.attr("ip") as string,
                ...(h.attr("name") !== undefined ? { hostname: h.attr("name") } : {}),
              })),
          },
        }
      : {}),
    ...(net.child("bridge")?.attr("name") !== undefined ? { bridge: net.child("bridge")?.attr("name") } : {}),
    ...(forward?.child("pf")?.attr("dev") !== undefined ? { physicalFunction: forward.child("pf")?.attr("dev") } : {}),
    ...(vlan !== undefined ? { vlan } : {}),
    labels: ownership.labels,
    ownership,
  };
}
