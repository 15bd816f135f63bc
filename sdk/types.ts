import type * as pulumi from "@pulumi/pulumi";

/** A model input type where every value may also be a Pulumi Input (an Output of another resource). */
export type DeepInput<T> = T extends string | number | boolean
  ? pulumi.Input<T>
  : T extends (infer U)[]
    ? pulumi.Input<DeepInput<U>[]>
    : T extends object
      ? pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>
      : pulumi.Input<T>;

/** Every field of a normalised spec, as an Output on the resource. */
export type Outputs<T> = { readonly [K in keyof T]-?: pulumi.Output<T[K]> };
