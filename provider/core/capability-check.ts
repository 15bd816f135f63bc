import { type HypervisorCapabilities, no, type Support } from "./capabilities";
import type { InputFailure } from "./errors";
import type { ResourceKind, SpecOf, VirtualMachineSpec } from "./model";
import { vcpuCount } from "./model";
import { containsUnknown } from "./unknown";

/**
 * Refuses features the target hypervisor kind lacks, before anything is touched. Works on
 * static capabilities only: `pulumi preview` must not need the host to be reachable.
 */
export function checkCapabilities<K extends ResourceKind>(kind: K, spec: SpecOf<K>, caps: HypervisorCapabilities): InputFailure[] {
  const failures: InputFailure[] = [];
  const need = (property: string, support: Support) => {
    if (support !== true) failures.push({ property, reason: support.unsupported });
  };
  const oneOf = <T extends string>(property: string, value: T | undefined, accepted: readonly T[], what: string) => {
    if (value === undefined || containsUnknown(value) || accepted.includes(value)) return;
    failures.push({ property, reason: `${caps.product} does not support ${what} "${value}"; accepted: ${accepted.join(", ")}` });
  };
  switch (kind) {
    case "VirtualMachine":
      checkVm(spec as VirtualMachineSpec, caps, need, oneOf, failures);
      break;
    case "StoragePool": {
      const pool = spec as SpecOf<"StoragePool">;
      oneOf("kind", pool.kind, caps.poolKinds, "storage pool kind");
      break;
    }
    case "Volume":
      oneOf("format", (spec as SpecOf<"Volume">).format, caps.volumeFormats, "volume format");
      break;
    case "Network": {
      const net = spec as SpecOf<"Network">;
      oneOf("mode", net.mode, caps.networkModes, "network mode");
      if (net.mode === "sriov") need("mode", caps.sriov);
      break;
    }
    case "PassthroughDevice": {
      const dev = spec as SpecOf<"PassthroughDevice">;
      oneOf("kind", dev.kind, caps.passthroughKinds, "passthrough kind");
      const support = { gpu: caps.gpuPassthrough, pci: caps.pciPassthrough, "sriov-vf": caps.sriov, usb: caps.usbPassthrough }[dev.kind];
      if (support) need("kind", support);
      break;
    }
    case "Snapshot": {
      const snap = spec as SpecOf<"Snapshot">;
      need("vm", caps.snapshots);
      if (snap.memory) need("memory", caps.memorySnapshots);
      if (snap.quiesce) need("quiesce", caps.quiesceSnapshots);
      if (snap.rollbackOn !== undefined) need("rollbackOn", caps.snapshotRollback);
      break;
    }
    case "Container":
      // Named on the host: a container is placed there, and that is what the target lacks.
      need("host", caps.containers);
      break;
    case "Backup":
      need("host", caps.backups);
      break;
  }
  return failures;
}

/** A host change the target kind cannot make for this VM, refused at preview rather than planned. */
export function checkHostMove(old: VirtualMachineSpec, next: VirtualMachineSpec, caps: HypervisorCapabilities): InputFailure[] {
  const devices = Object.keys(old.passthrough);
  if (old.host === next.host || devices.length === 0 || caps.passthroughMigration === undefined || caps.passthroughMigration === true) return [];
  return [
    {
      property: "host",
      reason: `got "${next.host}"; this VM holds passthrough devices (${devices.map((s) => `passthrough.${s}`).join(", ")}): ${caps.passthroughMigration.unsupported}`,
    },
  ];
}

function checkVm(
  vm: VirtualMachineSpec,
  caps: HypervisorCapabilities,
  need: (property: string, support: Support) => void,
  oneOf: <T extends string>(property: string, value: T | undefined, accepted: readonly T[], what: string) => void,
  failures: InputFailure[],
): void {
  oneOf("cpu.mode", vm.cpu.mode, caps.cpuModes, "CPU mode");
  if (vm.cpu.pinning && Object.keys(vm.cpu.pinning).length > 0) need("cpu.pinning", caps.cpuPinning);
  if (vm.cpu.emulatorPinning) need("cpu.emulatorPinning", caps.emulatorPinning);
  if (vm.cpu.numa) need("cpu.numa", caps.numa);
  if (vm.memory.hugepages) {
    need("memory.hugepages", caps.hugepages);
    const size = vm.memory.hugepages.pageSizeKiB;
    if (caps.hugepages === true && !caps.hugepageSizesKiB.includes(size)) {
      failures.push({ property: "memory.hugepages.pageSizeKiB", reason: `${caps.product} does not offer ${size} KiB pages; accepted: ${caps.hugepageSizesKiB.join(", ")}` });
    }
  }
  if (vm.memory.balloon) need("memory.balloon", caps.ballooning);
  const vcpus = Math.max(vcpuCount(vm), vm.cpu.maxVcpus ?? 0);
  if (vcpus > caps.limits.maxVcpus) {
    failures.push({ property: "cpu", reason: `asks for ${vcpus} vCPUs; ${caps.product} allows at most ${caps.limits.maxVcpus} per VM` });
  }
  const memory = Math.max(vm.memory.sizeMiB, vm.memory.maxMiB ?? 0);
  if (memory > caps.limits.maxMemoryMiB) {
    failures.push({ property: "memory.sizeMiB", reason: `asks for ${memory} MiB; ${caps.product} allows at most ${caps.limits.maxMemoryMiB} MiB per VM` });
  }
  const disks = Object.entries(vm.disks);
  if (disks.length > caps.limits.maxDisks) failures.push({ property: "disks", reason: `has ${disks.length} disks; ${caps.product} allows at most ${caps.limits.maxDisks}` });
  for (const [slot, disk] of disks) oneOf(`disks.${slot}.bus`, disk.bus, caps.diskBuses, "disk bus");
  const nics = Object.entries(vm.nics);
  if (nics.length > caps.limits.maxNics) failures.push({ property: "nics", reason: `has ${nics.length} NICs; ${caps.product} allows at most ${caps.limits.maxNics}` });
  for (const [slot, nic] of nics) {
    oneOf(`nics.${slot}.model`, nic.model, caps.nicModels, "NIC model");
    if (nic.sriovPool) need(`nics.${slot}.sriovPool`, caps.sriov);
    const range = caps.fixedMacRange;
    // MACs are normalised to lower-case "xx:xx:xx:xx:xx:xx", so string order is numeric order.
    if (range && nic.mac !== undefined && !containsUnknown(nic.mac) && (nic.mac < range.first || nic.mac > range.last)) {
      failures.push({
        property: `nics.${slot}.mac`,
        reason: `got "${nic.mac}"; ${caps.product} accepts fixed MAC addresses only from ${range.first} to ${range.last} (${range.why})`,
      });
    }
  }
  if (Object.keys(vm.passthrough).length > 0) need("passthrough", caps.pciPassthrough);
  if (vm.firmware.type === "uefi") need("firmware.type", caps.uefi);
  if (vm.firmware.secureBoot) need("firmware.secureBoot", caps.secureBoot);
  if (vm.firmware.tpm) need("firmware.tpm", caps.tpm);
  if (vm.cloudInit) need("cloudInit", caps.cloudInit);
  for (const field of ["user", "sshKeys", "ipConfig"] as const) {
    if (vm.cloudInit?.[field] !== undefined) {
      need(
        `cloudInit.${field}`,
        caps.structuredCloudInit ?? no(`NovaCron's ${caps.product} driver takes cloud-init as documents; put the user, keys and addresses in cloudInit.userData and networkConfig`),
      );
    }
  }
  if (vm.kernelBoot) need("kernelBoot", caps.kernelBoot);
  if (vm.cloneFrom) need("cloneFrom", caps.templateClones ?? no(`NovaCron's ${caps.product} driver cannot create a VM from a template`));
  if (vm.restoreFrom !== undefined) need("restoreFrom", caps.backups);
  oneOf("console.kind", vm.console.kind, caps.consoles, "console");
}
