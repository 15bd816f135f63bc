import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { uniquePrefix } from "../support/testbeds";
import { useRealEngine } from "../support/engine";
import type { BenchResult } from "./types";

/**
 * The real Pulumi engine on a 200-VM program: a no-change `preview` of NovaCron's VMs on the
 * libvirt test driver vs the same program whose resources use a dynamic provider that does
 * nothing, rounds interleaved so load drift falls on both sides. The difference is NovaCron's
 * own cost per preview (loading the sdk and provider, check and diff of every VM); Pulumi's
 * engine, the dynamic-provider host and serialization are in both.
 */
const VMS = Number(process.env.NOVACRON_BENCH_VMS ?? 200);
const ROUNDS = 3;
const HOSTS = JSON.stringify({ test: { driver: "libvirt", uri: "test+unix:///default" } });

function vmArgs(prefix: string, i: number) {
  return { host: "test", name: `${prefix}-${i}`, cpu: { cores: 1 }, memory: { sizeMiB: 128 }, powerState: "stopped" as const, labels: { bench: "engine" } };
}

function novacronProgram(prefix: string) {
  return async () => {
    // Imported as a user's program does. The inline route keeps modules loaded between runs of
    // this process, so only the provider host's load (a new process per run) recurs here.
    const nc = await import("../../sdk");
    for (let i = 0; i < VMS; i++) new nc.VirtualMachine(`vm-${i}`, vmArgs(prefix, i));
  };
}

/** Accepts anything and records the inputs as outputs: the floor of any dynamic provider. */
const noopProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: String(inputs.name), outs: inputs };
  },
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string, props: Record<string, unknown>) {
    super(noopProvider, name, props, {}, "bench", "Noop");
  }
}

function noopProgram(prefix: string) {
  return async () => {
    for (let i = 0; i < VMS; i++) new Noop(`vm-${i}`, vmArgs(prefix, i));
  };
}

async function stackOf(name: string, program: () => Promise<void>): Promise<Stack> {
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, projectName: "novacron-bench", program });
  await stack.setConfig("novacron:hosts", { value: HOSTS });
  return stack;
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function run(): Promise<BenchResult[]> {
  useRealEngine();
  const prefix = uniquePrefix("eb");
  const ours = await stackOf(`${prefix}-novacron`, novacronProgram(prefix));
  const floor = await stackOf(`${prefix}-noop`, noopProgram(prefix));
  try {
    const upOurs = await seconds(() => ours.up());
    const upFloor = await seconds(() => floor.up());
    const previews = { ours: [] as number[], floor: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      previews.floor.push(await seconds(() => floor.preview({ expectNoChanges: true })));
      previews.ours.push(await seconds(() => ours.preview({ expectNoChanges: true })));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const ratio = median(previews.ours) / median(previews.floor);
    return [
      { name: `no-change preview, ${VMS} VMs (median of ${ROUNDS})`, value: median(previews.ours), unit: "s" },
      { name: `no-change preview, ${VMS} no-op resources (Pulumi's floor)`, value: median(previews.floor), unit: "s" },
      { name: "preview vs the no-op provider", value: ratio, unit: "x", target: "<= 1.2", pass: ratio <= 1.2 },
      { name: `up of ${VMS} VMs on the libvirt test driver, per VM`, value: (upOurs / VMS) * 1000, unit: "ms" },
      { name: `up of ${VMS} no-op resources, per resource`, value: (upFloor / VMS) * 1000, unit: "ms" },
    ];
  } finally {
    await ours.destroy().catch(() => undefined);
    await floor.destroy().catch(() => undefined);
    await ours.workspace.removeStack(ours.name).catch(() => undefined);
    await floor.workspace.removeStack(floor.name).catch(() => undefined);
  }
}
