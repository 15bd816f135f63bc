import type * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "../../provider/core/model";
import * as runtime from "../../provider/dynamic/runtime";
import { engineView } from "./provider-host";

type Props = Record<string, unknown>;

/**
 * The provider's runtime called in-process, with every answer handed back as the engine hands
 * it to the next call: secret-wrapped properties (a VM's console, cloudInit) unwrapped. Tests
 * that chain check → create → update without the engine use this instead of the runtime itself.
 */
export const configure = runtime.configure;
export const diff = runtime.diff;

export async function check(kind: ResourceKind, olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
  const result = await runtime.check(kind, olds, news);
  return { ...result, inputs: engineView(result.inputs) as Props };
}

export async function create(kind: ResourceKind, inputs: Props): Promise<pulumi.dynamic.CreateResult> {
  const result = await runtime.create(kind, inputs);
  return { ...result, outs: engineView(result.outs) as Props };
}

export async function read(kind: ResourceKind, id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
  const result = await runtime.read(kind, id, props);
  return { ...result, props: engineView(result.props) as Props, inputs: engineView(result.inputs) as Props };
}

export async function update(kind: ResourceKind, id: string, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
  const result = await runtime.update(kind, id, olds, news);
  return { ...result, outs: engineView(result.outs) as Props };
}

export const remove = runtime.remove;
