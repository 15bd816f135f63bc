import * as pulumi from "@pulumi/pulumi";
import { ProviderHost } from "../support/provider-host";
import { HOSTS, VALID_INPUTS } from "../unit/core/fixtures";
import type { BenchResult } from "./types";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

const SPECS = 500;

/** Specs that differ the way a real fleet does: sizes, slots, NICs, tuning. */
function fleet(): Record<string, unknown>[] {
  const specs = Array.from({ length: SPECS }, (_, i) => ({
    ...VALID_INPUTS.VirtualMachine,
    name: `vm-${i}`,
    cpu: { cores: 1 + (i % 8), maxVcpus: 16, pinning: i % 5 === 0 ? { "0": String(i % 4) } : undefined },
    memory: { sizeMiB: 512 * (1 + (i % 4)), maxMiB: 4096 },
    disks: Object.fromEntries(Array.from({ length: 1 + (i % 3) }, (_, d) => [`vd${String.fromCharCode(97 + d)}`, { volume: `pool/vm-${i}-${d}` }])),
    nics: { net0: { network: "lab", queues: 1 + (i % 4) } },
    labels: { team: `t${i % 7}` },
  }));
  // Structs cannot carry undefined, as in a real program's serialized inputs.
  return JSON.parse(JSON.stringify(specs)) as Record<string, unknown>[];
}

/**
 * check+diff throughput of 500 VM specs through Pulumi's real provider host, against a no-op
 * dynamic provider in the same host and run: what our validation and classification cost on
 * top of the host's own per-call work.
 */
export async function run(): Promise<BenchResult[]> {
  const host = await ProviderHost.start({ NOVACRON_HOSTS: "" });
  try {
    await host.configure({ "novacron:hosts": JSON.stringify(HOSTS) });
    const specs = fleet();
    const noop: pulumi.dynamic.ResourceProvider = {
      check: async (_olds, news) => ({ inputs: news }),
      diff: async () => ({ changes: false }),
      create: async () => ({ id: "x" }),
    };
    const noopText = (await pulumi.runtime.serializeFunction(() => noop, { allowSecrets: true })).text;
    // Warm both paths (module loading, ts-node) before timing.
    await host.check("VirtualMachine", {}, specs[0]);
    await rawCheckDiff(host, noopText, specs[0]);

    const oursRound = async () => {
      for (const spec of specs) {
        const { inputs } = await host.check("VirtualMachine", {}, spec);
        const changed = { ...inputs, memory: { ...(inputs.memory as object), sizeMiB: 2048 } };
        const { inputs: next } = await host.check("VirtualMachine", inputs, changed);
        await host.diff("VirtualMachine", "id", inputs, next);
      }
    };
    // The no-op carries the same normalised payload ours returns, so the ratio isolates what
    // validation and classification cost rather than how many fields a normalised spec has.
    const normalised = await Promise.all(
      specs.map(async (spec) => {
        const { inputs } = await host.check("VirtualMachine", {}, spec);
        const { __provider: _p, ...rest } = inputs;
        return rest;
      }),
    );
    const baselineRound = async () => {
      for (const spec of normalised) await rawCheckDiff(host, noopText, spec);
    };
    const { ours, baseline } = await interleavedBest(oursRound, baselineRound);
    const ratio = ours / baseline;
    return [
      { name: `NovaCron check+check+diff, ${SPECS} VMs`, value: ours, unit: "ms" },
      { name: `no-op provider check+check+diff, ${SPECS} VMs`, value: baseline, unit: "ms" },
      { name: "NovaCron / no-op per-call time", value: ratio, unit: "×", target: "≤ 1.5×", pass: ratio <= 1.5 },
      { name: "NovaCron check+diff calls per second", value: Math.round((SPECS * 3 * 1000) / ours), unit: "calls/s" },
    ];
  } finally {
    await host.stop();
  }
}

const ROUNDS = 5;

/**
 * Rounds of the two alternate, so a change in the machine's load falls on both alike; each
 * side's best round is its least disturbed measurement of the same work.
 */
async function interleavedBest(a: () => Promise<void>, b: () => Promise<void>): Promise<{ ours: number; baseline: number }> {
  let ours = Number.POSITIVE_INFINITY;
  let baseline = Number.POSITIVE_INFINITY;
  const timed = async (work: () => Promise<void>) => {
    const t = performance.now();
    await work();
    return performance.now() - t;
  };
  for (let i = 0; i < ROUNDS; i++) {
    ours = Math.min(ours, await timed(a));
    baseline = Math.min(baseline, await timed(b));
  }
  return { ours, baseline };
}

/**
 * The same three RPCs as ours, with the no-op provider's `__provider`, paying the same
 * client-side encoding and decoding as the ProviderHost methods do for ours.
 */
async function rawCheckDiff(host: ProviderHost, provider: string, spec: Record<string, unknown>): Promise<void> {
  const call = (host as unknown as { call: (m: string, r: unknown) => Promise<unknown> }).call.bind(host);
  const urn = "urn:pulumi:test::p::pulumi-nodejs:dynamic:Resource::noop";
  let inputs: Record<string, unknown> = spec;
  for (let i = 0; i < 2; i++) {
    const check = new provproto.CheckRequest();
    check.setUrn(urn);
    check.setOlds(Struct.fromJavaScript((i === 0 ? {} : inputs) as never));
    check.setNews(Struct.fromJavaScript({ ...spec, __provider: provider } as never));
    const resp = (await call("check", check)) as provproto.CheckResponse;
    inputs = (resp.getInputs()?.toJavaScript() ?? {}) as Record<string, unknown>;
    resp.getFailuresList();
  }
  const diff = new provproto.DiffRequest();
  diff.setId("id");
  diff.setUrn(urn);
  diff.setOlds(Struct.fromJavaScript(inputs as never));
  diff.setNews(Struct.fromJavaScript({ ...spec, __provider: provider } as never));
  await call("diff", diff);
}
