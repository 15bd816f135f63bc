import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { closeAllSessions, connect, type VimClient } from "../../provider/drivers/vsphere/soap";
import { createVm, destroyVm, reconfigureVm, resolveNetwork, resolvePlacement, type VmSpec } from "../../provider/drivers/vsphere/vm";
import { DATACENTER, vcsim } from "../integration/vsphere/testbed";
import type { BenchResult } from "./types";

const CYCLES = 20;
const ROUNDS = 5;
const PHASES = ["create", "reconfigure", "destroy"] as const;
type Phase = (typeof PHASES)[number];
interface PhaseTotals {
  ms: number;
  roundTrips: number;
}
type Totals = Record<Phase, PhaseTotals>;

const empty = (): Totals => ({ create: { ms: 0, roundTrips: 0 }, reconfigure: { ms: 0, roundTrips: 0 }, destroy: { ms: 0, roundTrips: 0 } });

async function ours(client: VimClient, round: number): Promise<Totals> {
  const placement = await resolvePlacement(client, { datacenter: DATACENTER, resourcePool: "/DC0/host/DC0_C0/Resources", datastore: "LocalDS_0" });
  const network = await resolveNetwork(client, DATACENTER, "VM Network");
  const totals = empty();
  const measure = async <T>(phase: Phase, f: () => Promise<T>): Promise<T> => {
    const rt = client.roundTrips;
    const t0 = process.hrtime.bigint();
    const out = await f();
    totals[phase].ms += Number(process.hrtime.bigint() - t0) / 1e6;
    totals[phase].roundTrips += client.roundTrips - rt;
    return out;
  };
  for (let i = 0; i < CYCLES; i++) {
    // The same VM the govmomi baseline creates: 2 vCPU, 1 GiB, PVSCSI + thin 1 GiB disk, vmxnet3.
    const spec: VmSpec = {
      name: `bench-ts-${process.pid}-${round}-${i}`,
      guestId: "otherGuest64",
      numCPUs: 2,
      memoryMB: 1024,
      disks: { root: { sizeGiB: 1, provisioning: "thin" } },
      nics: { net0: { network, adapter: "vmxnet3" } },
    };
    const vm = await measure("create", () => createVm(client, placement, spec));
    await measure("reconfigure", () => reconfigureVm(client, vm, { ...spec, numCPUs: 4, memoryMB: 2048 }));
    await measure("destroy", () => destroyVm(client, vm));
  }
  return totals;
}

async function baseline(round: number): Promise<Totals> {
  const bed = vcsim();
  const { stdout } = await promisify(execFile)(
    bed.baseline,
    ["-url", bed.url, "-username", bed.username, "-password", bed.password, "-ca", bed.caFile, "-n", String(CYCLES), "-prefix", `bench-go-${round}`],
    { encoding: "utf8" },
  );
  return (JSON.parse(stdout) as { phases: Totals }).phases;
}

/** The faster of the rounds per phase: these machines are noisy, and noise only ever adds time. */
function best(runs: Totals[]): Totals {
  const out = empty();
  for (const p of PHASES) {
    out[p] = runs.map((r) => r[p]).reduce((x, y) => (y.ms < x.ms ? y : x));
  }
  return out;
}

/**
 * Create/reconfigure/destroy of the same VM, N times, through our vim25 client
 * and through govmomi (Debian's build, in a small Go program) against the same
 * simulator, interleaved in rounds. Target: ours within 1.2× govmomi's time.
 */
export async function run(): Promise<BenchResult[]> {
  const client = await connect(vcsim().options);
  try {
    await ours(client, -1); // warm-up: module loading, JIT, TLS
    const mine: Totals[] = [];
    const theirs: Totals[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      mine.push(await ours(client, r));
      theirs.push(await baseline(r));
    }
    const a = best(mine);
    const b = best(theirs);
    const results: BenchResult[] = [];
    for (const p of PHASES) {
      const ratio = a[p].ms / b[p].ms;
      results.push(
        { name: `${p}: wall time per VM, ours`, value: a[p].ms / CYCLES, unit: "ms" },
        { name: `${p}: wall time per VM, govmomi`, value: b[p].ms / CYCLES, unit: "ms" },
        { name: `${p}: time ratio ours/govmomi`, value: ratio, unit: "x", target: "<= 1.2", pass: ratio <= 1.2 },
        { name: `${p}: SOAP round trips per VM, ours`, value: a[p].roundTrips / CYCLES, unit: "requests" },
        { name: `${p}: SOAP round trips per VM, govmomi`, value: b[p].roundTrips / CYCLES, unit: "requests" },
      );
    }
    const total = (t: Totals) => PHASES.reduce((s, p) => s + t[p].ms, 0);
    const cycle = total(a) / total(b);
    results.push({ name: "full cycle: time ratio ours/govmomi", value: cycle, unit: "x", target: "<= 1.2", pass: cycle <= 1.2 });
    return results;
  } finally {
    await closeAllSessions();
  }
}
