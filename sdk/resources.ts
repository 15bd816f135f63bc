import * as pulumi from "@pulumi/pulumi";
// The written-out model types, not the zod model: the declarations users load import no zod.
import type { ArgsOf, ResourceKind, SpecOf } from "./model-types";
// Not the model itself: declaring resources needs no zod schemas in the program's process.
import { COMPUTED_OUTPUTS } from "../provider/core/model/computed";
import { providerText } from "../provider/dynamic/providers";
import type { DeepInput } from "./types";

/** Arguments of a resource: the model's input type; `name` defaults to the Pulumi resource name. */
export type ResourceArgs<K extends ResourceKind> = "name" extends keyof ArgsOf<K> ? DeepInput<Omit<ArgsOf<K>, "name">> & { name?: pulumi.Input<string> } : DeepInput<ArgsOf<K>>;

/** Inputs holding secrets, by top-level key: wrapped as secrets going in and coming out. */
const SECRET_KEYS: Partial<Record<ResourceKind, string[]>> = { VirtualMachine: ["cloudInit", "console"] };

/** Kinds without a `name` input: the Pulumi resource name is not passed on. */
const UNNAMED: readonly ResourceKind[] = ["PassthroughDevice", "Backup"];

/**
 * Shared constructor logic: one dynamic resource type per kind, so policy packs can match it.
 * What `pulumi.dynamic.Resource` does, with our own `__provider` text instead of the closure
 * serializer's (three times smaller; see providerText): the type token
 * `pulumi-nodejs:dynamic/novacron:<Kind>` routes every operation to Pulumi's dynamic provider host.
 */
export abstract class NovaCronResource<K extends ResourceKind> extends pulumi.CustomResource {
  protected constructor(kind: K, name: string, args: ResourceArgs<K>, opts?: pulumi.CustomResourceOptions) {
    const props: Record<string, unknown> = UNNAMED.includes(kind) ? { ...(args as object) } : { name, ...(args as object) };
    for (const key of SECRET_KEYS[kind] ?? []) {
      if (props[key] !== undefined) props[key] = pulumi.secret(props[key]);
    }
    for (const key of COMPUTED_OUTPUTS[kind]) props[key] = undefined;
    const secretOutputs = SECRET_KEYS[kind] ?? [];
    props.__provider = providerText(kind);
    super(`pulumi-nodejs:dynamic/novacron:${kind}`, name, props, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...secretOutputs] });
  }
}

type Out<K extends ResourceKind, Key extends keyof SpecOf<K>> = pulumi.Output<SpecOf<K>[Key]>;

export class VirtualMachine extends NovaCronResource<"VirtualMachine"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:VirtualMachine";
  declare readonly name: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;
  declare readonly cpu: Out<"VirtualMachine", "cpu">;
  declare readonly memory: Out<"VirtualMachine", "memory">;
  declare readonly disks: Out<"VirtualMachine", "disks">;
  declare readonly nics: Out<"VirtualMachine", "nics">;
  declare readonly powerState: Out<"VirtualMachine", "powerState">;
  declare readonly labels: Out<"VirtualMachine", "labels">;
  /** Power state the hypervisor reports: running, stopped, paused, … */
  declare readonly state: pulumi.Output<string>;
  declare readonly uuid: pulumi.Output<string>;
  /** The VM's id on its host; after a cross-hypervisor move the resource id is the old host's until the next refresh. */
  declare readonly hostId: pulumi.Output<string>;
  /** First IPv4 address (when `waitForIp` is set; null before the guest has one). */
  declare readonly ipAddress: pulumi.Output<string | null>;
  declare readonly macAddresses: pulumi.Output<Record<string, string>>;
  /** Each field of the last update with its disruption class, e.g. `memory.sizeMiB: live (…)`. */
  declare readonly lastChange: pulumi.Output<string[] | null>;
  declare readonly lastChangeClass: pulumi.Output<string | null>;
  /** Figures of the last live migration: total time, downtime, bytes moved. */
  declare readonly migration: pulumi.Output<Record<string, number> | null>;
  /** Devices NovaCron does not manage (a CD-ROM, a vhost-user NIC …): kept as they are through every update. */
  declare readonly unmanaged: pulumi.Output<string[] | null>;

  constructor(name: string, args: ResourceArgs<"VirtualMachine">, opts?: pulumi.CustomResourceOptions) {
    super("VirtualMachine", name, args, opts);
  }
}

export class StoragePool extends NovaCronResource<"StoragePool"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:StoragePool";
  declare readonly name: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;
  declare readonly path: pulumi.Output<string | undefined>;
  declare readonly state: pulumi.Output<string>;
  declare readonly capacityBytes: pulumi.Output<number>;
  constructor(name: string, args: ResourceArgs<"StoragePool">, opts?: pulumi.CustomResourceOptions) {
    super("StoragePool", name, args, opts);
  }
}

export class Volume extends NovaCronResource<"Volume"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:Volume";
  declare readonly name: pulumi.Output<string>;
  declare readonly pool: pulumi.Output<string>;
  /** Path of the volume on its host. */
  declare readonly path: pulumi.Output<string>;
  declare readonly capacityBytes: pulumi.Output<number>;
  constructor(name: string, args: ResourceArgs<"Volume">, opts?: pulumi.CustomResourceOptions) {
    super("Volume", name, args, opts);
  }
}

export class Network extends NovaCronResource<"Network"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:Network";
  declare readonly name: pulumi.Output<string>;
  declare readonly mode: Out<"Network", "mode">;
  declare readonly state: pulumi.Output<string>;
  constructor(name: string, args: ResourceArgs<"Network">, opts?: pulumi.CustomResourceOptions) {
    super("Network", name, args, opts);
  }
}

export class PassthroughDevice extends NovaCronResource<"PassthroughDevice"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:PassthroughDevice";
  declare readonly kind: Out<"PassthroughDevice", "kind">;
  /** What the host reports for the device: address, vendor, product, IOMMU group, NUMA node. */
  declare readonly observed: pulumi.Output<Record<string, unknown>>;
  constructor(name: string, args: ResourceArgs<"PassthroughDevice">, opts?: pulumi.CustomResourceOptions) {
    super("PassthroughDevice", name, args, opts);
  }
}

export class Snapshot extends NovaCronResource<"Snapshot"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:Snapshot";
  declare readonly name: pulumi.Output<string>;
  declare readonly vm: pulumi.Output<string>;
  declare readonly state: pulumi.Output<string>;
  constructor(name: string, args: ResourceArgs<"Snapshot">, opts?: pulumi.CustomResourceOptions) {
    super("Snapshot", name, args, opts);
  }
}

/** A system container (LXC on Proxmox VE): root file system, mount points by slot, NICs by slot. */
export class Container extends NovaCronResource<"Container"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:Container";
  declare readonly name: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;
  declare readonly rootfs: Out<"Container", "rootfs">;
  declare readonly mountPoints: Out<"Container", "mountPoints">;
  declare readonly nics: Out<"Container", "nics">;
  declare readonly powerState: Out<"Container", "powerState">;
  /** Power state the hypervisor reports: running or stopped. */
  declare readonly state: pulumi.Output<string>;
  declare readonly macAddresses: pulumi.Output<Record<string, string>>;
  declare readonly lastChange: pulumi.Output<string[] | null>;
  declare readonly lastChangeClass: pulumi.Output<string | null>;
  constructor(name: string, args: ResourceArgs<"Container">, opts?: pulumi.CustomResourceOptions) {
    super("Container", name, args, opts);
  }
}

/** A backup archive of a VM or container; `archive` is what a restore (`Container.restoreFrom`) takes. */
export class Backup extends NovaCronResource<"Backup"> {
  static readonly __pulumiType = "pulumi-nodejs:dynamic/novacron:Backup";
  declare readonly guest: pulumi.Output<string>;
  declare readonly storage: pulumi.Output<string>;
  /** `listed` when the storage lists the archive, `unlisted` when the server showed none. */
  declare readonly state: pulumi.Output<string>;
  /** Volume id of the archive; null where the server did not list one. */
  declare readonly archive: pulumi.Output<string | null>;
  declare readonly sizeBytes: pulumi.Output<number | null>;
  declare readonly createdAt: pulumi.Output<string>;
  constructor(name: string, args: ResourceArgs<"Backup">, opts?: pulumi.CustomResourceOptions) {
    super("Backup", name, args, opts);
  }
}
