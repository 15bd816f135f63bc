import assert from "node:assert/strict";
import { checkInputs } from "../../../provider/core/check";
import { DriverKind } from "../../../provider/core/hosts";
import { capabilitiesOf } from "../../../provider/drivers/registry";
import { HOSTS, VALID_INPUTS } from "./fixtures";

const TUNED_VM = {
  ...VALID_INPUTS.VirtualMachine,
  cpu: { cores: 2, pinning: { "0": "2", "1": "3" }, emulatorPinning: "0", numa: [{ vcpus: "0-1", memoryMiB: 1024, hostNode: 0 }] },
  memory: { sizeMiB: 1024, hugepages: { pageSizeKiB: 2048 }, balloon: {} },
  firmware: { type: "uefi", secureBoot: true, tpm: true },
};

function failures(host: string, spec: Record<string, unknown>) {
  return checkInputs("VirtualMachine", undefined, { ...spec, host }, HOSTS, capabilitiesOf).failures;
}

describe("capabilities: every driver kind has a complete table", () => {
  for (const kind of DriverKind.options) {
    it(`${kind} declares limits, kinds and a product name`, () => {
      const caps = capabilitiesOf(kind);
      assert.equal(caps.driver, kind);
      assert.ok(caps.product.length > 0);
      assert.ok(caps.limits.maxVcpus > 0 && caps.limits.maxMemoryMiB > 0 && caps.limits.maxConcurrentVms > 0);
      assert.ok(caps.diskBuses.length > 0 && caps.nicModels.length > 0);
    });
  }
});

describe("capabilities: check() refuses what the target cannot do, with the driver's reason", () => {
  it("KVM takes the fully tuned VM", () => {
    assert.deepEqual(failures("kvm1", TUNED_VM), []);
  });

  it("Hyper-V refuses vCPU pinning, emulator pinning and hugepages by field", () => {
    const byField = Object.fromEntries(failures("hv1", TUNED_VM).map((f) => [f.property, f.reason]));
    assert.equal(byField["cpu.pinning"], "Hyper-V does not support vCPU pinning");
    assert.match(byField["cpu.emulatorPinning"], /Hyper-V/);
    assert.match(byField["memory.hugepages"], /Hyper-V has no per-VM hugepage/);
    assert.match(byField["disks.vda.bus"], /Hyper-V does not support disk bus "virtio-blk"; accepted: virtio-scsi/);
    assert.equal(byField["cpu.numa"], undefined, "Hyper-V has virtual NUMA");
  });

  it("vSphere refuses NUMA cells and per-vCPU pinning but takes UEFI, secure boot, TPM and one CPU set for all vCPUs", () => {
    const fields = failures("vc1", TUNED_VM)
      .map((f) => f.property)
      .sort();
    // The table refuses first; the translation's pinning rule runs once the table has no objection.
    assert.deepEqual(fields, ["cpu.emulatorPinning", "cpu.numa", "memory.hugepages"]);
    const tpm = { ...VALID_INPUTS.VirtualMachine, disks: {}, firmware: { type: "uefi", secureBoot: true, tpm: true } };
    const perVcpu = failures("vc1", { ...tpm, cpu: { cores: 2, pinning: { "0": "2", "1": "3" } } });
    assert.deepEqual(
      perVcpu.map((f) => f.property),
      ["cpu.pinning"],
    );
    assert.match(perVcpu[0]!.reason, /one host CPU set/);
    assert.deepEqual(failures("vc1", { ...tpm, cpu: { cores: 2, pinning: { "0": "2-3", "1": "2-3" } } }), []);
  });

  it("XCP-ng refuses NUMA and quiesced snapshots", () => {
    assert.ok(failures("xcp1", TUNED_VM).some((f) => f.property === "cpu.numa" && /XCP-ng/.test(f.reason)));
    const snap = checkInputs("Snapshot", undefined, { host: "xcp1", vm: "web", name: "s", quiesce: true }, HOSTS, capabilitiesOf);
    assert.deepEqual(
      snap.failures.map((f) => f.property),
      ["quiesce"],
    );
  });

  it("Proxmox refuses only emulator pinning of the tuned VM", () => {
    assert.deepEqual(
      failures("pve1", TUNED_VM).map((f) => f.property),
      ["cpu.emulatorPinning"],
    );
  });

  it("limits: too many vCPUs for Hyper-V names the ceiling", () => {
    const [f] = failures("hv1", { ...VALID_INPUTS.VirtualMachine, disks: {}, cpu: { sockets: 2, cores: 128 } });
    assert.equal(f.property, "cpu");
    assert.match(f.reason, /256 vCPUs; Hyper-V allows at most 240/);
  });

  it("a NIC model the kind lacks names the accepted ones", () => {
    const spec = { ...VALID_INPUTS.VirtualMachine, disks: {}, nics: { net0: { network: "lab", model: "e1000e" } } };
    const [f] = failures("hv1", spec);
    assert.equal(f.property, "nics.net0.model");
    assert.match(f.reason, /Hyper-V does not support NIC model "e1000e"; accepted: virtio/);
  });

  it("a fixed MAC outside the kind's range names the range; kinds without one take any address", () => {
    const spec = (mac: string) => ({ ...VALID_INPUTS.VirtualMachine, disks: {}, nics: { net0: { network: "lab", mac } } });
    const [f] = failures("vc1", spec("52:54:00:00:00:01"));
    assert.equal(f.property, "nics.net0.mac");
    assert.match(f.reason, /got "52:54:00:00:00:01"; VMware vSphere accepts fixed MAC addresses only from 00:50:56:00:00:00 to 00:50:56:3f:ff:ff/);
    assert.deepEqual(failures("vc1", spec("00:50:56:00:00:01")), []);
    assert.deepEqual(failures("pve1", spec("52:54:00:00:00:01")), []);
  });

  it("a host change of a VM holding passthrough devices is refused where the kind says so (vSphere), planned elsewhere", () => {
    const vm = (host: string) => ({ ...VALID_INPUTS.VirtualMachine, host, disks: {}, passthrough: { hostdev0: { device: "dev" } } });
    const vsphereHosts = { ...HOSTS, vc2: { ...HOSTS.vc1! } };
    const moved = checkInputs("VirtualMachine", vm("vc1"), vm("vc2"), vsphereHosts, capabilitiesOf).failures;
    assert.deepEqual(
      moved.map((f) => f.property),
      ["host"],
    );
    assert.match(moved[0]!.reason, /holds passthrough devices \(passthrough\.hostdev0\): vSphere cannot vMotion/);
    assert.deepEqual(checkInputs("VirtualMachine", vm("kvm1"), vm("kvm2"), HOSTS, capabilitiesOf).failures, []);
    // From KVM to vSphere the VM is moved cold: the devices cannot follow it, whatever vMotion's rule says.
    const across = checkInputs("VirtualMachine", vm("kvm1"), vm("vc1"), HOSTS, capabilitiesOf);
    assert.ok(across.failures.some((f) => f.property === "passthrough.hostdev0" && /cannot follow the VM/.test(f.reason)));
    assert.match((across.inputs.plannedChanges as string[]).join("\n"), /^host: migrate \(cold, cross-hypervisor/m);
  });

  it("network modes and pool kinds are checked per kind", () => {
    const net = checkInputs("Network", undefined, { host: "vc1", name: "n", mode: "nat", cidr: "10.0.0.0/24" }, HOSTS, capabilitiesOf);
    assert.match(net.failures[0].reason, /VMware vSphere does not support network mode "nat"; accepted: bridge/);
    const usb = checkInputs("PassthroughDevice", undefined, { host: "hv1", kind: "usb", vendorDevice: "046d:c52b" }, HOSTS, capabilitiesOf);
    assert.ok(usb.failures.some((f) => f.reason === "Hyper-V has no USB passthrough"));
  });
});

describe("capabilities: check() also runs each driver's host-free translation rules", () => {
  const vm = (host: string, extra: Record<string, unknown>) => failures(host, { ...VALID_INPUTS.VirtualMachine, ...extra });

  it("libvirt: an NVMe disk and multiqueue on an e1000e NIC are refused at preview, by field", () => {
    assert.deepEqual(
      vm("kvm1", { disks: { nvme0: { volume: "images/a", bus: "nvme" } } }).map((f) => f.property),
      ["disks.nvme0.bus"],
    );
    const [nic] = vm("kvm1", { nics: { net0: { network: "lab", model: "e1000e", queues: 4 } } });
    assert.equal(nic.property, "nics.net0.queues");
    assert.match(nic.reason, /multiqueue is a virtio-net feature; model "e1000e"/);
  });

  it("libvirt: a pool kind with no translation is refused unless it is only adopted", () => {
    const pool = (extra: Record<string, unknown>) =>
      checkInputs("StoragePool", undefined, { host: "kvm1", name: "san", kind: "iscsi", source: "san1/iqn.2026-01.dev.example:lun1", ...extra }, HOSTS, capabilitiesOf).failures;
    assert.deepEqual(
      pool({}).map((f) => [f.property, /not translated yet \(supported: dir/.test(f.reason)]),
      [["kind", true]],
    );
    assert.deepEqual(pool({ adopt: true }), []);
  });

  it("libvirt: the tuned VM with cloud-init and a passthrough device builds against stand-ins without a failure", () => {
    assert.deepEqual(vm("kvm1", { ...TUNED_VM, host: "kvm1", cloudInit: { userData: "#cloud-config\n" }, passthrough: { hostdev0: { device: "pci_0000_01_00_0" } } }), []);
  });

  it("vSphere: a NIC VLAN and disks on two datastores are refused at preview with the driver's reason", () => {
    const [vlan] = vm("vc1", { disks: {}, nics: { net0: { network: "VM Network", vlan: 12 } } });
    assert.equal(vlan.property, "nics.net0.vlan");
    assert.match(vlan.reason, /VLAN belongs to the portgroup/);
    const [pools] = vm("vc1", { disks: { scsi0: { pool: "ds1", sizeGiB: 1 }, scsi1: { pool: "ds2", sizeGiB: 1 } }, nics: {} });
    assert.equal(pools.property, "disks");
    assert.match(pools.reason, /must name the same pool \(datastore\); got ds1, ds2/);
  });

  it("preview unknowns: the rest of the spec is still checked; a problem on the unknown field waits for up", () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    // The disk's volume is another resource's id, unknown on the first preview.
    const [nic] = vm("kvm1", { disks: { vda: { volume: unknown } }, nics: { net0: { network: "lab", model: "e1000e", queues: 4 } } });
    assert.equal(nic?.property, "nics.net0.queues");
    assert.deepEqual(vm("kvm1", { disks: { vda: { volume: unknown } }, nics: { net0: { network: unknown, mac: unknown } } }), []);
  });
});
