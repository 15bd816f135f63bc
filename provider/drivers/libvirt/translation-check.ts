import type { InputFailure } from "../../core/errors";
import type { NetworkSpec, ResourceKind, SpecOf, StoragePoolSpec, VirtualMachineSpec } from "../../core/model";
import { buildDomainElement, buildNetworkXml, buildStoragePoolXml, LibvirtXmlError, type DomainBuildContext } from "./xml";

/**
 * The XML builders' own refusals (multiqueue on a non-virtio NIC, an NVMe disk, a pool kind
 * with no translation…) found at check() time: each spec is built once against stand-ins for
 * what only the host can resolve (volume paths, device addresses, the seed ISO). A refusal that
 * depends on those facts still surfaces at apply, from the real build.
 */
export function libvirtTranslationProblems<K extends ResourceKind>(kind: K, spec: SpecOf<K>): InputFailure[] {
  try {
    switch (kind) {
      case "VirtualMachine": {
        const vm = spec as VirtualMachineSpec;
        buildDomainElement(vm, standInContext(vm));
        break;
      }
      case "StoragePool": {
        const pool = spec as StoragePoolSpec;
        // An adopted pool is never defined by us, whatever its kind.
        if (!pool.adopt) buildStoragePoolXml(pool);
        break;
      }
      case "Network":
        buildNetworkXml(spec as NetworkSpec, { ownership: { resource: (spec as NetworkSpec).name } });
        break;
      default:
        // Volume, PassthroughDevice and Snapshot XML depend on host facts only.
        break;
    }
  } catch (error) {
    if (error instanceof LibvirtXmlError) return [{ property: error.property, reason: error.reason }];
    // A stand-in the builder did not expect is our gap, not the user's: the real build decides.
  }
  return [];
}

function standInContext(vm: VirtualMachineSpec): DomainBuildContext {
  const passthrough: NonNullable<DomainBuildContext["passthrough"]> = {};
  Object.values(vm.passthrough).forEach(({ device }, i) => {
    passthrough[device] = { kind: "pci", address: { domain: 0, bus: 1, slot: i, function: 0 } };
  });
  return {
    type: "qemu",
    disks: Object.fromEntries(Object.entries(vm.disks).map(([slot, disk]) => [slot, { kind: "file" as const, path: `/stand-in/${slot}`, format: disk.format ?? "qcow2" }])),
    passthrough,
    cloudInitSeed: vm.cloudInit ? "/stand-in/seed.iso" : undefined,
    boot: vm.kernelBoot,
    ownership: { resource: vm.name },
  };
}
