import { closeAllSessions, connect, MoRef, type VimClient } from "../../provider/drivers/vsphere/soap";
import { readVm } from "../../provider/drivers/vsphere/vm";
import { powerOffEvents } from "../integration/vsphere-provider/helpers";
import { DATACENTER, vcsim } from "../integration/vsphere/testbed";
import { qemuPid, testbed, virshMaybe } from "../support/testbeds";

type Props = Record<string, unknown>;

/**
 * One hypervisor's testbed for the conformance suite: its host entry, how a neutral spec is
 * made to fit it (only what the testbed cannot provide is taken away), and how to tell from
 * the outside whether the guest kept running. A new driver joins the suite with an entry here.
 */
export interface ConformanceTestbed {
  kind: "libvirt" | "vsphere" | "proxmox";
  /** novacron:hosts for the provider host; the VM goes on `host`. */
  hosts(): Record<string, unknown>;
  host: string;
  /** The neutral spec as this testbed can run it. */
  fit(spec: Props): Props;
  /**
   * A token that stays the same while the guest runs on without interruption and changes when
   * it is power-cycled (libvirt: the QEMU process; vSphere: vCenter's power-off events).
   */
  runToken(name: string, id: string): Promise<string>;
  /**
   * Changes where this driver does not yet do what the matrix promises, with the error it gives
   * instead. The suite asserts exactly that error (and that the guest kept running), so fixing
   * the gap fails the suite until the entry is removed here.
   */
  knownGaps?: Record<string, RegExp>;
  /** Anything the suite made that the provider's delete may have left. */
  cleanup(name: string): Promise<void>;
}

/** No storage or network of the testbed's own: disks and NICs are left to the driver suites. */
const withoutDevices = (spec: Props): Props => ({ ...spec, disks: {}, nics: {} });

const libvirt: ConformanceTestbed = {
  kind: "libvirt",
  host: "kvm",
  hosts: () => {
    testbed("libvirt.sh");
    return { kvm: { driver: "libvirt", uri: "qemu:///system" } };
  },
  // A tiny guest with no OS: nothing to boot, so every case takes seconds under TCG.
  fit: (spec) => ({ ...withoutDevices(spec), machine: "pc", updatePolicy: { ...(spec.updatePolicy as Props), shutdownTimeoutSeconds: 1 } }),
  runToken: async (name) => {
    try {
      return `qemu ${qemuPid(name)}`;
    } catch {
      return "not running";
    }
  },
  cleanup: async (name) => {
    virshMaybe("qemu:///system", "destroy", name);
    virshMaybe("qemu:///system", "undefine", name);
  },
};

let vimClient: VimClient | undefined;
const vsphere: ConformanceTestbed = {
  kind: "vsphere",
  host: "vc",
  hosts: () => {
    const sim = vcsim();
    return {
      vc: {
        driver: "vsphere",
        url: sim.url,
        username: sim.username,
        password: sim.password,
        datacenter: DATACENTER,
        caFile: sim.caFile,
        cluster: "DC0_C0",
        host: "DC0_C0_H0",
        datastore: "LocalDS_0",
      },
    };
  },
  fit: (spec) => ({ ...withoutDevices(spec), updatePolicy: { ...(spec.updatePolicy as Props), shutdownTimeoutSeconds: 1 } }),
  runToken: async (_name, id) => {
    vimClient ??= await connect(vcsim().options);
    const ref = new MoRef("VirtualMachine", id);
    const state = await readVm(vimClient, ref);
    return state.powerState === "poweredOn" ? `on, ${await powerOffEvents(vimClient, ref)} power-offs so far` : "not running";
  },
  cleanup: async () => {
    if (vimClient) await closeAllSessions();
    vimClient = undefined;
  },
};

export const CONFORMANCE_TESTBEDS: ConformanceTestbed[] = [libvirt, vsphere];
