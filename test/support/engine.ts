import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { programStack } from "../../examples/run-program";
import { REPO, testbed } from "./testbeds";

/**
 * The real Pulumi engine for the e2e tier: the CLI from test/testbeds/pulumi-cli.sh (built from
 * Go modules and cached), the dynamic-provider plugin from @pulumi/pulumi, a file state backend,
 * and our programs as inline programs (examples/run-program.ts), offline.
 */
export function useRealEngine(): void {
  const cliDir = testbed("pulumi-cli.sh");
  const cache = process.env.NOVACRON_CACHE ?? path.join(REPO, ".cache");
  const state = stateDir();
  mkdirSync(state, { recursive: true });
  mkdirSync(path.join(cache, "pulumi-home"), { recursive: true });
  // The CLI and the plugins it starts inherit this process's environment.
  process.env.PATH = [cliDir, path.join(REPO, "node_modules/.bin"), process.env.PATH].join(":");
  process.env.PULUMI_BACKEND_URL = `file://${state}`;
  process.env.PULUMI_HOME = path.join(cache, "pulumi-home");
  process.env.PULUMI_CONFIG_PASSPHRASE = "novacron-e2e";
  process.env.PULUMI_SKIP_UPDATE_CHECK = "true";
  process.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
}

/** The file backend's directory: checkpoints as the engine wrote them. */
export function stateDir(): string {
  return path.join(process.env.NOVACRON_CACHE ?? path.join(REPO, ".cache"), "e2e-state");
}

/**
 * A stack of an example project whose Pulumi.<stack>.yaml lives in a directory of its own, so
 * tests never write into the examples; the program and Pulumi.yaml are the example's own.
 */
export async function exampleStack(projectDir: string, stackName: string, config: Record<string, string | { value: string; secret: boolean }> = {}): Promise<Stack> {
  // Inside the repository: the dynamic-provider plugin resolves @pulumi/pulumi from this directory.
  const workRoot = path.join(REPO, ".cache/e2e-work");
  mkdirSync(workRoot, { recursive: true });
  const workDir = mkdtempSync(path.join(workRoot, `${stackName}-`));
  // The CLI checks that `main` exists beside Pulumi.yaml; the inline program is loaded from the
  // project directory itself, so the copy drops the line.
  const settings = readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
  writeFileSync(path.join(workDir, "Pulumi.yaml"), settings.replace(/^main:.*\n/m, ""));
  const stack = await programStack({ projectDir, stackName, workDir });
  for (const [key, value] of Object.entries(config)) {
    await stack.setConfig(key, typeof value === "string" ? { value } : value);
  }
  return stack;
}

/**
 * A stack of the quickstart itself, on the real libvirtd, with its names and subnet moved aside
 * through the program's own config so that it never meets a user's quickstart (or another test's).
 */
export async function quickstartStack(prefix: string, subnetOctet: number): Promise<Stack> {
  testbed("libvirt.sh");
  const guest = testbed("guest-image.sh");
  useRealEngine();
  return exampleStack(path.join(REPO, "examples/quickstart"), prefix, {
    "quickstart:guestDir": guest,
    "quickstart:prefix": prefix,
    "quickstart:subnet": `10.${subnetOctet}.${20 + (process.pid % 200)}`,
    "quickstart:poolPath": `/var/lib/novacron-test/${prefix}`,
  });
}

/** What the engine said about each resource during a preview or update, by resource name. */
export class EngineLog {
  readonly events: EngineEvent[] = [];
  readonly text: string[] = [];
  readonly onEvent = (e: EngineEvent) => this.events.push(e);
  readonly onOutput = (out: string) => this.text.push(out);

  /** The step the engine planned for a resource: create, same, update, replace, delete, … */
  op(name: string): string | undefined {
    return this.events.find((e) => e.resourcePreEvent?.metadata.urn.endsWith(`::${name}`))?.resourcePreEvent?.metadata.op;
  }

  /** The inputs the engine sent for a resource (the provider's check() output). */
  newInputs(name: string): Record<string, unknown> | undefined {
    return this.events.find((e) => e.resourcePreEvent?.metadata.urn.endsWith(`::${name}`))?.resourcePreEvent?.metadata.new?.inputs;
  }

  /** The VM's plannedChanges without their reasons: "cpu.cores: hotplug", … */
  plannedClasses(name: string): string[] {
    return ((this.newInputs(name)?.plannedChanges as string[] | undefined) ?? []).map((c) => c.split(" (")[0]);
  }

  /** Policy violations reported by policy packs, as "pack/policy: message". */
  violations(): string[] {
    return this.events.flatMap((e) => (e.policyEvent ? [`${e.policyEvent.policyPackName}/${e.policyEvent.policyName}: ${e.policyEvent.message}`] : []));
  }

  all(): string {
    return this.text.join("");
  }
}
