import type { ChangePlan } from "../../../core/classify";
import type { OperationContext } from "../../../core/driver";
import type { VirtualMachineSpec } from "../../../core/model";
import { vcpuCount } from "../../../core/model";
import type { DomainRef, LibvirtClient } from "../rpc";
import type { DomainBuildContext } from "../xml";
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
  const oldBuild: DomainBuildContext = { ...build, disks: { ...build.disks } };
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
        ctx.progress(`detaching disk ${slot}`);
        await client.call("domainDetachDeviceFlags", { dom, xml: deviceXml("disk", old, oldBuild, slot), flags: LIVE });
      }
    } else if (group === "nics" && field === undefined) {
      if (next.nics[slot] && !old.nics[slot]) {
        ctx.progress(`attaching NIC ${slot}`);
        await client.call("domainAttachDeviceFlags", { dom, xml: deviceXml("nic", next, build, slot), flags: LIVE });
      } else if (old.nics[slot] && !next.nics[slot]) {
        ctx.progress(`detaching NIC ${slot}`);
        await client.call("domainDetachDeviceFlags", { dom, xml: deviceXml("nic", old, build, slot), flags: LIVE });
      }
    } else if (group === "nics" && (field === "network" || field === "bridge" || field === "vlan")) {
      ctx.progress(`reconnecting NIC ${slot}`);
      await client.call("domainUpdateDeviceFlags", { dom, xml: deviceXml("nic", next, build, slot), flags: LIVE });
    }
    // Labels, balloon settings, pinning and power state live in the new definition or are
    // converged by the caller; nothing more to send to the running guest here.
  }
}
