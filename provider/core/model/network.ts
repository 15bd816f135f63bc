import { z } from "zod";
import { Adopt, Cidr, DeleteOnDestroy, HostRef, Ipv4, Labels, MacAddress, ObjectName, ipv4ToNumber, parseCidr } from "./common";

export const NetworkMode = z.enum(["nat", "routed", "isolated", "bridge", "sriov"]);
export type NetworkMode = z.infer<typeof NetworkMode>;

export const NetworkInputs = z
  .strictObject({
    host: HostRef,
    name: ObjectName,
    mode: NetworkMode,
    cidr: Cidr.optional().describe("Subnet of nat/routed/isolated networks; the host takes the first address."),
    dhcp: z
      .strictObject({
        start: Ipv4.optional(),
        end: Ipv4.optional(),
        staticLeases: z.array(z.strictObject({ mac: MacAddress, ip: Ipv4, hostname: z.string().optional() })).default([]),
      })
      .optional()
      .describe("DHCP on the subnet; the range defaults to the upper half of the CIDR."),
    bridge: z.string().min(1).optional().describe("Existing host bridge (mode bridge) or name of the bridge to create."),
    physicalFunction: z.string().min(1).optional().describe("SR-IOV physical function interface, e.g. `enp3s0f0` (mode sriov)."),
    vlan: z.int().min(1).max(4094).optional(),
    autostart: z.boolean().default(true),
    adopt: Adopt,
    deleteOnDestroy: DeleteOnDestroy,
    labels: Labels,
  })
  .superRefine((net, ctx) => {
    const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const routedLike = net.mode === "nat" || net.mode === "routed" || net.mode === "isolated";
    if (routedLike && !net.cidr) fail(["cidr"], `is required for mode "${net.mode}" (e.g. "10.77.0.0/24")`);
    if (!routedLike && net.cidr) fail(["cidr"], `is only accepted for modes nat, routed and isolated, not "${net.mode}"`);
    if (!routedLike && net.dhcp) fail(["dhcp"], `DHCP is only served on nat, routed and isolated networks, not "${net.mode}"`);
    if (net.mode === "bridge" && !net.bridge) fail(["bridge"], 'is required for mode "bridge" (an existing host bridge such as br0)');
    if (net.mode === "sriov" && !net.physicalFunction) fail(["physicalFunction"], 'is required for mode "sriov"');
    if (!net.cidr || !net.dhcp) return;
    const subnet = parseCidr(net.cidr);
    const inside = (ip: string) => ipv4ToNumber(ip) > subnet.first && ipv4ToNumber(ip) <= subnet.last;
    for (const key of ["start", "end"] as const) {
      const ip = net.dhcp[key];
      if (ip && !inside(ip)) fail(["dhcp", key], `got "${ip}"; must be inside ${net.cidr} and not the host's own address`);
    }
    if (net.dhcp.start && net.dhcp.end && ipv4ToNumber(net.dhcp.start) > ipv4ToNumber(net.dhcp.end)) {
      fail(["dhcp", "end"], `got "${net.dhcp.end}"; must not be below dhcp.start (${net.dhcp.start})`);
    }
    net.dhcp.staticLeases.forEach((lease, i) => {
      if (!inside(lease.ip)) fail(["dhcp", "staticLeases", i, "ip"], `got "${lease.ip}"; must be inside ${net.cidr}`);
    });
  });
export type NetworkSpec = z.output<typeof NetworkInputs>;
