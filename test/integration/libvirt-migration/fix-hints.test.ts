import assert from "node:assert/strict";
import { ProviderHost } from "../../support/provider-host";
import { specOf, testbed, uniquePrefix, virsh, virshMaybe } from "../../support/testbeds";

const SOURCE = "qemu:///system";
const PEER = "qemu+tcp://10.213.0.2/system";
type Props = Record<string, unknown>;

/**
 * A migration that fails because of a host entry says which setting of which entry fixes it,
 * instead of libvirt's bare "unable to connect to server at 'vm:49152'". Real libvirtd on both
 * sides (the peer in its own network namespace).
 */
describe("libvirt migration failures name the host setting that fixes them", function () {
  this.timeout(300_000);
  const prefix = uniquePrefix("parity-mig");
  let host: ProviderHost;
  const made: { name: string; id: string; outs: Props }[] = [];

  before(async () => {
    testbed("libvirt.sh");
    assert.equal(testbed("libvirt-peer.sh"), PEER);
    host = await ProviderHost.start({
      NOVACRON_HOSTS: JSON.stringify({
        // The way back is reachable (peerUri) but names no data address: libvirt then sends the
        // data to this machine's own hostname, which the peer cannot resolve.
        kvm1: { driver: "libvirt", uri: SOURCE, peerUri: "qemu+tcp://10.213.0.1/system" },
        kvm2: { driver: "libvirt", uri: PEER, migrationUri: "tcp://10.213.0.2" },
        // The peer daemon under a peerUri nobody listens on.
        kvm2wrongpeer: { driver: "libvirt", uri: PEER, peerUri: "qemu+tcp://10.213.0.2:1/system", migrationUri: "tcp://10.213.0.2" },
      }),
    });
  });

  after(async () => {
    for (const vm of made) await host?.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup ${vm.name}: ${e}`));
    await host?.stop();
    for (const vm of made) {
      for (const uri of [SOURCE, PEER]) {
        virshMaybe(uri, "destroy", vm.name);
        virshMaybe(uri, "undefine", vm.name);
      }
    }
  });

  async function move(vm: { id: string; outs: Props }, to: string): Promise<Props> {
    const old = specOf(vm.outs);
    const { inputs, failures } = await host.check("VirtualMachine", old, { ...old, host: to });
    assert.deepEqual(failures, []);
    return host.update("VirtualMachine", vm.id, vm.outs, inputs);
  }

  it("a peerUri the source cannot reach is named, with the entry; the VM keeps running on the source", async () => {
    const name = `${prefix}-peer`;
    const created = await host.checkAndCreate("VirtualMachine", {
      host: "kvm1",
      name,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 64 },
      powerState: "running",
      updatePolicy: { shutdownTimeoutSeconds: 1 },
    });
    const vm = { name, ...created };
    made.push(vm);
    await assert.rejects(move(vm, "kvm2wrongpeer"), (error: Error) => {
      assert.match(error.message, /set peerUri in the novacron:hosts entry of "kvm2wrongpeer"/, error.message);
      assert.match(error.message, /qemu\+tcp:\/\/10\.213\.0\.2:1\/system/, "the URI that was tried");
      return true;
    });
    assert.match(virsh(SOURCE, "domstate", name), /^running/);
  });

  it("the way back to a host without migrationUri names migrationUri of that entry; the VM keeps running where it is", async () => {
    const name = `${prefix}-back`;
    const created = await host.checkAndCreate("VirtualMachine", {
      host: "kvm1",
      name,
      machine: "pc",
      cpu: { cores: 1 },
      memory: { sizeMiB: 64 },
      powerState: "running",
      updatePolicy: { shutdownTimeoutSeconds: 1 },
    });
    const vm = { name, ...created };
    made.push(vm);
    vm.outs = await move(vm, "kvm2");
    assert.match(virsh(PEER, "domstate", name), /^running/);
    await assert.rejects(move(vm, "kvm1"), (error: Error) => {
      assert.match(error.message, /set migrationUri in the novacron:hosts entry of "kvm1"/, error.message);
      return true;
    });
    assert.match(virsh(PEER, "domstate", name), /^running/);
  });
});
