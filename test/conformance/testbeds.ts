import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { closeAllSessions, connect, MoRef, type VimClient } from "../../provider/drivers/vsphere/soap";
import { readVm } from "../../provider/drivers/vsphere/vm";
import { hostOf, powerOffEvents } from "../integration/vsphere-provider/helpers";
import { clientFor, fakepve, hostEntry } from "../integration/proxmox/testbed";
import type { PveClient } from "../../provider/drivers/proxmox/api/client";
import type { ResourceKind } from "../../provider/core/model";
import type { ProviderHost } from "../support/provider-host";
import { DATACENTER, vcsim } from "../integration/vsphere/testbed";
import { qemuPid, testbed, virsh, virshMaybe } from "../support/testbeds";

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
  /** Another host entry of the same kind for the host-change case, if the testbed has two. */
  peer?: string;
  /** Storage and networks of the testbed's own the specs refer to, made once per run. */
  setup?(host: ProviderHost, prefix: string): Promise<Made[]>;
  /**
   * The neutral spec as this testbed can run it: the matrix's `pool0`, `net0` mapped to what
   * the testbed has, and only what it cannot provide taken away.
   */
  fit(spec: Props, caseId: string): Props;
  /**
   * A token that stays the same while the guest runs on without interruption and changes when
   * it is power-cycled (libvirt: the QEMU process; vSphere: vCenter's power-off events).
   */
  runToken(name: string, id: string): Promise<string>;
  /** After a host change: the guest runs on the peer and was not restarted on the way. */
  assertMoved?(name: string, id: string, outs: Props, before: string): Promise<void>;
  /** Snapshot names the hypervisor holds for the VM, read from the hypervisor itself. */
  snapshots(name: string, id: string): Promise<string[]>;
  /** Change cases whose effect this testbed's server cannot show, with the reason. */
  unobservable?: Record<string, string>;
  /**
   * Changes where this driver does not yet do what the matrix promises, with the error it gives
   * instead. The suite asserts exactly that error (and that the guest kept running), so fixing
   * the gap fails the suite until the entry is removed here.
   */
  knownGaps?: Record<string, RegExp>;
  /** Anything the suite made that the provider's delete may have left. */
  cleanup(name: string): Promise<void>;
}

/** A resource the suite made for a testbed, deleted after the VMs. */
export interface Made {
  kind: ResourceKind;
  id: string;
  outs: Props;
}

/**
 * The matrix's `pool0`, `net0` and `net1` (provider/drivers/parity/cases.ts) as the testbed
 * names them; a testbed without a second network never runs the case that needs one.
 */
function withDevices(spec: Props, pool: string, net0: string, net1?: string): Props {
  const map = <T extends Props>(items: unknown, f: (x: T) => T) => Object.fromEntries(Object.entries((items ?? {}) as Record<string, T>).map(([k, v]) => [k, f(v)]));
  const networks: Record<string, string | undefined> = { net0, net1 };
  return {
    ...spec,
    disks: map(spec.disks, (d) => (d.pool === "pool0" ? { ...d, pool } : d)),
    nics: map(spec.nics, (n) => (typeof n.network === "string" && networks[n.network] ? { ...n, network: networks[n.network] } : n)),
  };
}

const quickStop = (spec: Props): Props => ({ ...spec, updatePolicy: { ...(spec.updatePolicy as Props), shutdownTimeoutSeconds: 1 } });

const SOURCE = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";
const libvirtNames = { pool: "", network: "", network1: "" };
const libvirt: ConformanceTestbed = {
  kind: "libvirt",
  host: "kvm",
  peer: "kvm-peer",
  hosts: () => {
    testbed("libvirt.sh");
    testbed("libvirt-peer.sh");
    return {
      // The peer reaches this machine's daemon through the namespace link (libvirt-peer.sh).
      kvm: { driver: "libvirt", uri: SOURCE, peerUri: "qemu+tcp://10.213.0.1/system", migrationUri: "tcp://10.213.0.1" },
      "kvm-peer": { driver: "libvirt", uri: PEER, migrationUri: "tcp://10.213.0.2" },
    };
  },
  setup: async (host, prefix) => {
    libvirtNames.pool = `${prefix}-pool`;
    libvirtNames.network = `${prefix}-net`;
    libvirtNames.network1 = `${prefix}-net1`;
    const dir = `/var/lib/novacron-test/${prefix}`;
    mkdirSync(dir, { recursive: true });
    const pool = await host.checkAndCreate("StoragePool", { host: "kvm", name: libvirtNames.pool, kind: "dir", path: dir });
    const net = await host.checkAndCreate("Network", { host: "kvm", name: libvirtNames.network, mode: "isolated", cidr: `10.232.${20 + (process.pid % 200)}.0/24` });
    const net1 = await host.checkAndCreate("Network", { host: "kvm", name: libvirtNames.network1, mode: "isolated", cidr: `10.233.${20 + (process.pid % 200)}.0/24` });
    return [
      { kind: "StoragePool", ...pool },
      { kind: "Network", ...net },
      { kind: "Network", ...net1 },
    ];
  },
  // A tiny guest with no OS: nothing to boot, so every case takes seconds under TCG. A host
  // change moves no disk (the peer shares no storage with this machine) and no NIC (the
  // network exists on this host only).
  fit: (spec, caseId) => {
    const fitted = quickStop({ ...withDevices(spec, libvirtNames.pool, libvirtNames.network, libvirtNames.network1), machine: "pc" });
    return caseId === "host-move" ? { ...fitted, disks: {}, nics: {} } : fitted;
  },
  runToken: async (name) => {
    try {
      return `qemu ${qemuPid(name)}`;
    } catch {
      return "not running";
    }
  },
  // The peer's QEMU runs in another mount namespace (its pid file is not ours to read): the
  // domain runs there, is gone here, and the provider measured a live migration's downtime.
  assertMoved: async (name, id, outs) => {
    assert.match(virsh(PEER, "domstate", name), /^running/);
    assert.equal(virsh(PEER, "domuuid", name).trim(), id, "the same domain moved");
    assert.equal(virshMaybe(SOURCE, "domstate", name), undefined, "the source no longer has it");
    const migration = outs.migration as { downtimeMs?: number } | undefined;
    assert.equal(typeof migration?.downtimeMs, "number", `a live migration was recorded: ${JSON.stringify(outs.migration)}`);
  },
  snapshots: async (name) => {
    for (const uri of [SOURCE, PEER]) {
      const list = virshMaybe(uri, "snapshot-list", "--name", name);
      if (list !== undefined) return list.split("\n").filter((l) => l.trim() !== "");
    }
    return [];
  },
  cleanup: async (name) => {
    for (const uri of [SOURCE, PEER]) {
      virshMaybe(uri, "destroy", name);
      virshMaybe(uri, "undefine", "--snapshots-metadata", name);
    }
  },
};

let vimClient: VimClient | undefined;
const vim = async (): Promise<VimClient> => {
  vimClient ??= await connect(vcsim().options);
  return vimClient;
};
const vsphere: ConformanceTestbed = {
  kind: "vsphere",
  host: "vc",
  peer: "vc-h1",
  hosts: () => {
    const sim = vcsim();
    const vc = {
      driver: "vsphere",
      url: sim.url,
      username: sim.username,
      password: sim.password,
      datacenter: DATACENTER,
      caFile: sim.caFile,
      cluster: "DC0_C0",
      datastore: "LocalDS_0",
    };
    return { vc: { ...vc, host: "DC0_C0_H0" }, "vc-h1": { ...vc, host: "DC0_C0_H1" } };
  },
  // The second network is the simulator's distributed portgroup: the NIC moves across switch kinds.
  fit: (spec) => quickStop(withDevices(spec, "LocalDS_0", "VM Network", "DC0_DVPG0")),
  runToken: async (_name, id) => {
    const client = await vim();
    const ref = new MoRef("VirtualMachine", id);
    const state = await readVm(client, ref);
    return state.powerState === "poweredOn" ? `on, ${await powerOffEvents(client, ref)} power-offs so far` : "not running";
  },
  // vCenter's power-off events follow the VM, so the run token itself shows no restart.
  assertMoved: async (_name, id, _outs, before) => {
    const client = await vim();
    assert.equal(await hostOf(client, new MoRef("VirtualMachine", id)), "DC0_C0_H1");
    assert.equal(await vsphere.runToken(_name, id), before, "vMotion kept the VM powered on");
  },
  snapshots: async (_name, id) => (await readVm(await vim(), new MoRef("VirtualMachine", id))).snapshots.map((s) => s.name),
  cleanup: async () => {
    if (vimClient) await closeAllSessions();
    vimClient = undefined;
  },
};

let pveApi: PveClient | undefined;
const pveGet = async <T>(path: string): Promise<T> => {
  pveApi ??= clientFor(fakepve());
  return pveApi.get<T>(`/nodes/${fakepve().node}/qemu${path}`);
};
/**
 * Proxmox VE through fakepve: one node (no host change), and a server that records disk and
 * NIC edits without allocating or plugging anything, so only what it really models is run.
 */
const proxmox: ConformanceTestbed = {
  kind: "proxmox",
  host: "pve",
  hosts: () => ({ pve: hostEntry(fakepve()) }),
  fit: (spec) => quickStop(withDevices(spec, "local-lvm", "vmbr0")),
  // fakepve's pid is fixed per VM, so the token is the node's task log instead, like vCenter's
  // events: the newest power action (start, stop, shutdown, reboot) that ran for this VM.
  runToken: async (_name, id) => {
    const status = await pveGet<{ status: string }>(`/${id}/status/current`);
    if (status.status !== "running") return "not running";
    pveApi ??= clientFor(fakepve());
    const tasks = await pveApi.get<{ type: string; upid: string; starttime: number }[]>(`/nodes/${fakepve().node}/tasks`, { vmid: Number(id), limit: 1000 });
    const power = tasks.filter((t) => /^qm(start|stop|shutdown|reboot)$/.test(t.type)).sort((a, b) => a.starttime - b.starttime || a.upid.localeCompare(b.upid));
    return `running since ${power.at(-1)?.upid ?? "creation"}`;
  },
  snapshots: async (_name, id) => (await pveGet<{ name: string }[]>(`/${id}/snapshot`)).map((s) => s.name).filter((n) => n !== "current"),
  unobservable: {
    // PVE 9 applies these live with hotplug "cpu,memory" and NUMA on (the driver writes both, see
    // decision 0027); fakepve keeps every hardware change of a running VM pending, and the driver
    // then restarts the VM, as it must when the server says so (test/integration/proxmox/vcpus.test.ts).
    "cpu-up": "fakepve keeps a vCPU hot-add pending instead of applying it live",
    "memory-up": "fakepve keeps a memory hot-add pending instead of applying it live",
    "disk-add": "fakepve keeps a new drive as the request wrote it (STORAGE:SIZE) and allocates nothing",
    "disk-resize": "fakepve does not model a drive's size change",
    "disk-remove": "fakepve does not model unplugging a drive",
    "nic-add": "fakepve keeps a new NIC as written and plugs nothing",
    "nic-remove": "fakepve does not model unplugging a NIC",
    "nic-network": "fakepve's node has one bridge (vmbr0), so there is no other network to move a NIC to",
  },
  cleanup: async () => {
    await pveApi?.close();
    pveApi = undefined;
  },
};

export const CONFORMANCE_TESTBEDS: ConformanceTestbed[] = [libvirt, vsphere, proxmox];
