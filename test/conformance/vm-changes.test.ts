import assert from "node:assert/strict";
import { type Disruption, needsRestart } from "../../provider/core/disruption";
import { BASE_VM, CHANGE_CASES } from "../../provider/drivers/parity/cases";
import { computeParityMatrix } from "../../provider/drivers/parity/matrix";
import { ProviderHost } from "../support/provider-host";
import { specOf, uniquePrefix } from "../support/testbeds";
import { CONFORMANCE_TESTBEDS, type Made } from "./testbeds";

type Props = Record<string, unknown>;

/**
 * The same changes (provider/drivers/parity/cases.ts, the ones the parity matrix shows) applied
 * on every driver's testbed through the real provider host: the plan must show the class the
 * matrix gives for that driver, and the outcome must be that class — a live or hotplug change
 * leaves the same guest running (same QEMU process, no power-off in vCenter, no new power task
 * in fakepve's log), a reboot or cold change power-cycles it, a host change moves the running
 * guest without a restart, a replace (asked for by the diff, carried out as the engine does)
 * leaves a new VM. Snapshots are taken and removed on the running guest. A driver joins with its
 * testbed entry (./testbeds.ts), not with tests of its own.
 */
const matrix = computeParityMatrix();

for (const bed of CONFORMANCE_TESTBEDS) {
  describe(`conformance: ${bed.kind}`, function () {
    this.timeout(180_000);
    let host: ProviderHost;
    const prefix = uniquePrefix(`parity-${bed.kind.slice(0, 3)}`);
    const made: { name: string; id: string; outs: Props }[] = [];
    let shared: Made[] = [];

    before(async function () {
      this.timeout(300_000);
      host = await ProviderHost.start({ NOVACRON_HOSTS: JSON.stringify(bed.hosts()) });
      shared = (await bed.setup?.(host, prefix)) ?? [];
    });

    after(async () => {
      for (const vm of made) await host?.delete("VirtualMachine", vm.id, vm.outs).catch((e) => console.error(`cleanup ${vm.name}: ${e}`));
      for (const r of shared.reverse()) await host?.delete(r.kind, r.id, r.outs).catch((e) => console.error(`cleanup ${r.kind}: ${e}`));
      await host?.stop();
      for (const vm of made) await bed.cleanup(vm.name);
    });

    // Every change of the matrix, so a case added there runs here too.
    const cases = CHANGE_CASES.filter((x) => !(x.moves && !bed.peer) && !bed.unobservable?.[x.id]);
    for (const c of cases) {
      const cell = matrix.changes.find((r) => r.key === c.id)!.cells[bed.kind];
      const expected = cell.status === "different" ? cell.disruption : cell.status === "supported" ? cell.detail!.split(":")[0]! : undefined;
      it(`${c.title}: ${expected ?? "refused"} as the matrix says`, async function () {
        if (expected === undefined) this.skip(); // refused at preview: the matrix's own test covers it
        const name = `${prefix}-${c.id}`;
        const created = await host.checkAndCreate("VirtualMachine", bed.fit({ ...c.before, host: bed.host, name }, c.id));
        const vm = { name, ...created };
        made.push(vm);
        const before = await bed.runToken(name, vm.id);
        const old = specOf(vm.outs);
        // A case that renames the VM renames this run's VM.
        const afterName = c.after.name === c.before.name ? name : `${name}-renamed`;
        const { inputs, failures } = await host.check("VirtualMachine", old, bed.fit({ ...c.after, host: c.moves ? bed.peer : bed.host, name: afterName }, c.id));
        assert.deepEqual(failures, []);
        const classes = (inputs.plannedChanges as string[]).map((line) => /^[^:]+: (\w+)/.exec(line)?.[1]);
        assert.ok(classes.includes(expected), `planned ${JSON.stringify(inputs.plannedChanges)}, the matrix says ${expected}`);
        if (expected === "replace") {
          // The engine replaces, not the update: the diff must ask for it, and what the engine then
          // does (delete, since NovaCron asks for delete-before-replace, then create) must leave a
          // new VM running under the new spec.
          const diff = await host.diff("VirtualMachine", vm.id, vm.outs, inputs);
          assert.ok(diff.replaces.length > 0 && diff.deleteBeforeReplace, JSON.stringify(diff));
          await host.delete("VirtualMachine", vm.id, vm.outs);
          made.splice(made.indexOf(vm), 1);
          const next = { name: afterName, ...(await host.create("VirtualMachine", inputs)) };
          made.push(next);
          const token = await bed.runToken(afterName, next.id);
          assert.notEqual(token, "not running");
          // A new id, or where ids are reused (PVE hands the freed vmid out again) a new run.
          assert.ok(next.id !== vm.id || token !== before, `a replaced VM is a new VM: id ${next.id}, run ${token}`);
          assert.equal((await host.read("VirtualMachine", next.id, next.outs)).inputs.name, afterName);
          return;
        }
        const gap = bed.knownGaps?.[c.id];
        if (gap) {
          await assert.rejects(host.update("VirtualMachine", vm.id, vm.outs, inputs), gap);
          assert.equal(await bed.runToken(name, vm.id), before, "the failed change left the guest running");
          return;
        }
        vm.outs = await host.update("VirtualMachine", vm.id, vm.outs, inputs);
        assert.equal(vm.outs.lastChangeClass, expected, "the update reports the class it planned");
        if (expected === "migrate") await bed.assertMoved!(name, vm.id, vm.outs, before);
        else {
          const after = await bed.runToken(name, vm.id);
          if (c.id === "power-stop") assert.equal(after, "not running");
          else if (c.id === "power-start") assert.notEqual(after, "not running");
          else if (needsRestart(expected as Disruption)) assert.notEqual(after, before, `a ${expected} change power-cycles the guest`);
          else assert.equal(after, before, `a ${expected} change leaves the same guest running`);
        }
        // And the result reads back as the program says: no perpetual diff.
        const read = await host.read("VirtualMachine", vm.id, vm.outs);
        const again = (await host.check("VirtualMachine", {}, specOf(vm.outs))).inputs;
        assert.equal((await host.diff("VirtualMachine", vm.id, read.props, again)).changes, false, JSON.stringify(read.inputs));
      });
    }

    const snapshots = matrix.capabilities.find((r) => r.key === "snapshots")!.cells[bed.kind];
    it(`a snapshot taken and removed on the running guest: ${snapshots.status === "refused" ? "refused" : "live"} as the matrix says`, async function () {
      if (snapshots.status === "refused" || snapshots.status === "not-applicable") this.skip();
      const name = `${prefix}-snap`;
      // Small memory: the snapshot holds the running guest's RAM.
      const created = await host.checkAndCreate("VirtualMachine", bed.fit({ ...BASE_VM, memory: { sizeMiB: 256 }, host: bed.host, name }, "snapshot"));
      const vm = { name, ...created };
      made.push(vm);
      const before = await bed.runToken(name, vm.id);
      const snap = await host.checkAndCreate("Snapshot", { host: bed.host, vm: vm.id, name: "conformance_1", memory: true });
      assert.deepEqual(await bed.snapshots(name, vm.id), ["conformance_1"]);
      assert.equal(await bed.runToken(name, vm.id), before, "taking a snapshot leaves the same guest running");
      await host.delete("Snapshot", snap.id, snap.outs);
      assert.deepEqual(await bed.snapshots(name, vm.id), []);
      assert.equal(await bed.runToken(name, vm.id), before, "removing a snapshot leaves the same guest running");
    });
  });
}
