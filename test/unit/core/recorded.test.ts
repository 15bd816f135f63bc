import assert from "node:assert/strict";
import { VirtualMachineInputs } from "../../../provider/core/model";
import { parseRecorded, UnreadableStateError } from "../../../provider/core/recorded";
import { randomSpec, rng } from "../libvirt-xml/generate";

/** A recorded VM spec as state holds it (JSON, no undefined). */
function recorded(seed: number): Record<string, unknown> {
  return JSON.parse(JSON.stringify(randomSpec(seed))) as Record<string, unknown>;
}

describe("recorded state is read leniently (issue 9)", () => {
  it("a valid state parses unchanged and with nothing left out", () => {
    const state = recorded(3);
    const { spec, notUnderstood } = parseRecorded("VirtualMachine", state);
    assert.deepEqual(notUnderstood, []);
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), JSON.parse(JSON.stringify(VirtualMachineInputs.parse(state))));
  });

  it('the issue\'s state: disks.vdb.cache "default" is left out (its default applies) and named', () => {
    const state = { host: "kvm1", name: "web", memory: { sizeMiB: 512 }, disks: { vda: { volume: "/a.qcow2" }, vdb: { volume: "/b.img", cache: "default" } } };
    const { spec, notUnderstood } = parseRecorded("VirtualMachine", state);
    assert.equal((spec.disks as Record<string, { cache: string }>).vdb.cache, "none");
    assert.equal(notUnderstood.length, 1);
    assert.match(notUnderstood[0], /^disks\.vdb\.cache \(/);
  });

  it("unknown fields, a NIC with no source and NUMA cells that do not add up are each left out", () => {
    const state = {
      host: "kvm1",
      name: "web",
      fromTheFuture: { x: 1 },
      cpu: { cores: 2, numa: [{ vcpus: "0", memoryMiB: 100 }] },
      memory: { sizeMiB: 512 },
      nics: { net0: { network: "lab" }, net1: { model: "virtio" } },
    };
    const { spec, notUnderstood } = parseRecorded("VirtualMachine", state);
    assert.deepEqual(Object.keys(spec.nics as object), ["net0"]);
    assert.equal((spec.cpu as { numa?: unknown }).numa, undefined);
    assert.equal(spec.fromTheFuture, undefined);
    assert.deepEqual(notUnderstood.map((n) => n.split(" ")[0]).sort(), ["cpu.numa", "fromTheFuture", "nics.net1"]);
  });

  it("without a host nothing can be found: a clear error naming it, not a stack of zod issues", () => {
    assert.throws(
      () => parseRecorded("VirtualMachine", { name: "web", memory: { sizeMiB: 512 } }),
      (e: Error) => e instanceof UnreadableStateError && /host/.test(e.message),
    );
  });

  it("fuzz: 500 states with random corrupted fields always give a spec the model accepts", () => {
    const junk = [null, -1, 0, 1e12, "default", "", "x".repeat(3), true, [], {}, [1, 2], { nested: "?" }];
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const state = recorded(seed);
      // Corrupt a few random leaves (never host or name, which delete cannot do without).
      const leaves: string[][] = [];
      const walk = (value: unknown, path: string[]) => {
        if (value !== null && typeof value === "object" && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
        else if (path.length > 0 && path[0] !== "host" && path[0] !== "name") leaves.push(path);
      };
      walk(state, []);
      for (let n = 0; n < 3; n++) {
        const path = leaves[Math.floor(r() * leaves.length)];
        let node = state as Record<string, unknown>;
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
        node[path[path.length - 1]] = junk[Math.floor(r() * junk.length)];
      }
      const { spec } = parseRecorded("VirtualMachine", state);
      assert.ok(VirtualMachineInputs.safeParse(spec).success, `seed ${seed}`);
      assert.equal(spec.host, "kvm1");
    }
  });
});
