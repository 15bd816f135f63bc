import { z } from "zod";
import { HostRef, Labels } from "./common";

export const PassthroughKind = z.enum(["gpu", "pci", "sriov-vf", "usb"]);
export type PassthroughKind = z.infer<typeof PassthroughKind>;

export const PassthroughDeviceInputs = z
  .strictObject({
    host: HostRef,
    kind: PassthroughKind,
    pciAddress: z
      .string()
      .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/, 'must be a PCI address such as "0000:01:00.0"')
      .transform((a) => a.toLowerCase())
      .optional(),
    vendorDevice: z
      .string()
      .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(\/[0-9a-fA-F]{4,6})?$/, 'must be vendor:device[/class] in hex, such as "10de:1eb8" or "10de:1eb8/0300"')
      .transform((v) => v.toLowerCase())
      .optional(),
    managed: z.boolean().default(true).describe("Let the hypervisor detach the device from its host driver and give it back afterwards."),
    labels: Labels,
  })
  .superRefine((dev, ctx) => {
    if ((dev.pciAddress === undefined) === (dev.vendorDevice === undefined)) {
      ctx.addIssue({ code: "custom", path: ["pciAddress"], message: 'give exactly one selector: pciAddress ("0000:01:00.0") or vendorDevice ("10de:1eb8")' });
    }
    if (dev.kind === "usb" && dev.pciAddress) {
      ctx.addIssue({ code: "custom", path: ["pciAddress"], message: 'USB devices are selected by vendorDevice ("046d:c52b"), not a PCI address' });
    }
  });
export type PassthroughDeviceSpec = z.output<typeof PassthroughDeviceInputs>;
