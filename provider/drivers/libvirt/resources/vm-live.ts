import type { ChangePlan } from "../../../core/classify";
import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import { vcpuCount } from "../../../core/model";
import type { DomainRef, LibvirtClient } from "../rpc";
import { slotToTargetDev, type DomainBuildContext } from "../xml";
import { parseXml, type XmlNode } from "../xml/dom";
import { toElement } from "../xml/domain-preserve";
import { render } from "../xml/element";
import { deviceXml } from "./vm-devices";

/** virDomainModificationImpact: the persistent definition was already replaced, so only LIVE. */
const LIVE = 1;

/**
 * Applies the live and hotplug class changes of a plan to the running guest, field by field,
 * without restarting it (same QEMU process). Reboot-class changes never reach here.
 */
export async function applyLiveChanges(
  client: LibvirtClient,
  dom: DomainRef,
  old: VirtualMachineSpec,
  next: VirtualMachineSpec,
  plan: ChangePlan,
  build: DomainBuildContext,
  ctx: OperationContext,
): Promise<void> {
  for (const change of plan.changes) {
    const [group, slot, field] = change.path.split(".");
    if (change.path === "memory.sizeMiB") {
      ctx.progress(`memory → ${next.memory.sizeMiB} MiB (live)`);
      await client.call("domainSetMemoryFlags", { dom, memory: BigInt(next.memory.sizeMiB * 1024), flags: LIVE });
    } else if (change.path === "cpu.cores" && change.disruption === "hotplug") {
      ctx.progress(`vCPUs → ${vcpuCount(next)} (hotplug)`);
      await client.call("domainSetVcpusFlags", { dom, nvcpus: vcpuCount(next), flags: LIVE });
    } else if (group === "disks" && field === undefined) {
      if (next.disks[slot] && !old.disks[slot]) {
        ctx.progress(`attaching disk ${slot}`);
        await client.call("domainAttachDeviceFlags", { dom, xml: deviceXml("disk", next, build, slot), flags: LIVE });
      } else if (old.disks[slot] && !next.disks[slot]) {
        await detachLive(client, dom, "disk", (d) => d.child("target")?.attr("dev") === slotToTargetDev(slot), `disk ${slot}`, ctx);
      }
    } else if (group === "nics" && field === undefined) {
      if (next.nics[slot] && !old.nics[slot]) {
        ctx.progress(`attaching NIC ${slot}`);
        await client.call("domainAttachDeviceFlags", { dom, xml: deviceXml("nic", next, build, slot), flags: LIVE });
      } else if (old.nics[slot] && !next.nics[slot]) {
        const mac = (old.nics[slot].mac ?? build.macs?.[slot])?.toLowerCase();
        await detachLive(client, dom, "interface", (i) => mac !== undefined && i.child("mac")?.attr("address")?.toLowerCase() === mac, `NIC ${slot}`, ctx);
      }
    } else if (group === "cdroms" && field === "image") {
      if (!(await liveDevice(client, dom, "disk", (d) => d.child("target")?.attr("dev") === slotToTargetDev(slot)))) {
        ctx.progress(`CD-ROM ${slot} is not in the running guest (only in its definition); the new disc is there for the next start`);
        continue;
      }
      // A drive with no source in the XML ejects the disc.
      ctx.progress(next.cdroms?.[slot]?.image ? `inserting ${next.cdroms[slot].image} into ${slot}` : `ejecting the disc in ${slot}`);
      await client.call("domainUpdateDeviceFlags", { dom, xml: deviceXml("disk", next, build, slot), flags: LIVE });
    } else if (group === "nics" && (field === "network" || field === "bridge" || field === "vlan")) {
      ctx.progress(`reconnecting NIC ${slot}`);
      await client.call("domainUpdateDeviceFlags", { dom, xml: deviceXml("nic", next, build, slot), flags: LIVE });
    }
    // Labels, balloon settings, pinning and power state live in the new definition or are
    // converged by the caller; nothing more to send to the running guest here.
  }
}

/** The device as the running guest has it, if it has it. */
async function liveDevice(client: LibvirtClient, dom: DomainRef, element: "disk" | "interface", matches: (node: XmlNode) => boolean): Promise<XmlNode | undefined> {
  const { xml } = await client.call("domainGetXmlDesc", { dom, flags: 0 });
  return parseXml(xml, "domain").child("devices")?.all(element).find(matches);
}

/**
 * Detaches a device as the running guest has it: found in the live definition (by target for a
 * disk, by MAC for a NIC) and sent back as found, so a device attached outside NovaCron (no alias
 * of ours, an address libvirt picked) matches. A device only in the persistent definition (attached
 * with --config) is not in the guest: the new definition already leaves it out.
 */
async function detachLive(
  client: LibvirtClient,
  dom: DomainRef,
  element: "disk" | "interface",
  matches: (node: XmlNode) => boolean,
  what: string,
  ctx: OperationContext,
): Promise<void> {
  const found = await liveDevice(client, dom, element, matches);
  if (!found) {
    ctx.progress(`${what} is not in the running guest (only in its definition); nothing to detach live`);
    return;
  }
  ctx.progress(`detaching ${what}`);
  await client.call("domainDetachDeviceFlags", { dom, xml: render(toElement(found)), flags: LIVE });
  // libvirt only asks: the guest must release the device (ACPI PCI unplug), which a busy or
  // OS-less guest may never do. Waited for briefly, then reported, never failed: the device is
  // already gone from the definition and leaves the guest at its next restart at the latest.
  const deadline = Math.min(Date.now() + DETACH_WAIT_MS, ctx.deadline);
  while (await liveDevice(client, dom, element, matches)) {
    if (Date.now() >= deadline) {
      ctx.progress(
        `warning: the guest has not released ${what} after ${DETACH_WAIT_MS / 1000} s; libvirt removes it when the guest acknowledges the unplug, or at the next restart`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  ctx.progress(`${what} detached`);
}

/** How long a live detach waits for the guest to let go of the device. */
const DETACH_WAIT_MS = 10_000;
