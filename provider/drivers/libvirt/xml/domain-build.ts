import type { VirtualMachineSpec } from "../../../core/model";
import { el, render, type XmlElement } from "./element";
import type { DomainBuildContext } from "./domain-context";
import { checkCpuSets, cpuElement, cputuneElement, memoryElements, numatuneElement, vcpuElement } from "./domain-cpu";
import { diskElements, iothreadCount, SEED_IDE_DEV, SEED_SATA_DEV, isQ35 } from "./domain-disks";
import { balloonElement, graphicsElements, hostdevElements, nicElements, rootPortElements, serialElements, tpmElements } from "./domain-devices";
import { toElement } from "./domain-preserve";
import { DOMAIN_METADATA_NS, ownershipElement } from "./metadata";

/** Metadata extras the parser needs to read back what the XML alone cannot say. */
export const EXTRA_SEED_DEV = "seed-dev";
export const EXTRA_SRIOV_NICS = "sriov-nics";
export const EXTRA_SEED_SALT = "seed-salt";

function osElement(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement {
  const uefi = spec.firmware.type === "uefi";
  const secure = spec.firmware.secureBoot;
  // Autoselection unless explicit images are given: libvirt then matches a firmware descriptor to the features.
  const auto = uefi && ctx.uefi === undefined;
  return el(
    "os",
    { firmware: auto ? "efi" : undefined },
    el("type", { arch: ctx.arch ?? "x86_64", machine: spec.machine }, "hvm"),
    auto && el("firmware", {}, el("feature", { enabled: secure, name: "secure-boot" }), secure && el("feature", { enabled: true, name: "enrolled-keys" })),
    uefi && ctx.uefi !== undefined && el("loader", { readonly: true, secure, type: "pflash" }, ctx.uefi.loader),
    uefi && ctx.uefi?.nvram !== undefined && el("nvram", { template: ctx.uefi.nvramTemplate }, ctx.uefi.nvram),
    ctx.boot !== undefined && el("kernel", {}, ctx.boot.kernel),
    ctx.boot?.initrd !== undefined && el("initrd", {}, ctx.boot.initrd),
    ctx.boot?.cmdline !== undefined && el("cmdline", {}, ctx.boot.cmdline),
    ...preservedOs(spec, ctx),
  );
}

/** The host's own `<os>` extras; a boot device order gives way to per-device boot orders, which libvirt will not mix with it. */
function preservedOs(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  const perDevice = [...Object.values(spec.disks), ...Object.values(spec.nics)].some((d) => d.bootOrder !== undefined);
  return (ctx.preserved?.os ?? []).filter((n) => !(perDevice && n.name === "boot")).map(toElement);
}

/**
 * A setting as the host has it (features, clock, on_*). Re-defining from a host's definition, a
 * setting it lacks stays absent (libvirt's own default applies); only a new VM gets the builder's.
 */
function setting(ctx: DomainBuildContext, name: string, fallback: XmlElement): XmlElement | undefined {
  const found = ctx.preserved?.settings.find((n) => n.name === name);
  if (found) return toElement(found);
  return ctx.preserved ? undefined : fallback;
}

function featuresElement(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement | undefined {
  const built = el("features", {}, el("acpi"), el("apic"), spec.firmware.secureBoot && el("smm", { state: "on" }));
  const found = setting(ctx, "features", built) ?? el("features");
  // Secure boot needs SMM whatever else the host's features say.
  if (spec.firmware.secureBoot && !found.children.some((c) => typeof c !== "string" && c.name === "smm")) {
    return { ...found, children: [...found.children, el("smm", { state: "on" })] };
  }
  return found.children.length > 0 ? found : undefined;
}

/** Builder-written devices that give way to the host's own (a serial port on a file, a TIS TPM, no balloon …). */
function hostHas(ctx: DomainBuildContext, ...names: string[]): boolean {
  return (ctx.preserved?.devices ?? []).some((n) => names.includes(n.name));
}

function metadataElement(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement {
  const extras: Record<string, string> = {};
  if (spec.cloudInit && ctx.cloudInitSeed !== undefined) extras[EXTRA_SEED_DEV] = isQ35(spec.machine) ? SEED_SATA_DEV : SEED_IDE_DEV;
  if (ctx.seedSalt !== undefined) extras[EXTRA_SEED_SALT] = ctx.seedSalt;
  const sriov = Object.entries(spec.nics)
    .filter(([, nic]) => nic.sriovPool !== undefined)
    .map(([slot]) => slot)
    .sort();
  if (sriov.length > 0) extras[EXTRA_SRIOV_NICS] = sriov.join(",");
  return el("metadata", {}, ownershipElement(DOMAIN_METADATA_NS, ctx.ownership, spec.labels, extras), ...(ctx.preserved?.metadata ?? []).map(toElement));
}

/** The domain definition for `virDomainDefineXML`, from a normalised spec plus apply-time facts. */
export function buildDomainXml(spec: VirtualMachineSpec, ctx: DomainBuildContext): string {
  return render(buildDomainElement(spec, ctx));
}

/**
 * The same definition as an element tree. Every refusal of the builder is raised here, so
 * check()'s translation rules stop at the tree and skip the rendering.
 */
export function buildDomainElement(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement {
  checkCpuSets(spec);
  const iothreads = iothreadCount(spec);
  return el(
    "domain",
    { type: ctx.type },
    el("name", {}, spec.name),
    ctx.uuid !== undefined && el("uuid", {}, ctx.uuid),
    metadataElement(spec, ctx),
    ...memoryElements(spec, ctx.preserved),
    vcpuElement(spec),
    iothreads > 0 && el("iothreads", {}, iothreads),
    cputuneElement(spec, ctx.preserved?.cputune),
    numatuneElement(spec) ?? (ctx.preserved?.numatune && toElement(ctx.preserved.numatune)),
    osElement(spec, ctx),
    featuresElement(spec, ctx),
    cpuElement(spec, ctx.type, ctx.preserved),
    setting(ctx, "clock", el("clock", { offset: "utc" })),
    setting(ctx, "on_poweroff", el("on_poweroff", {}, "destroy")),
    setting(ctx, "on_reboot", el("on_reboot", {}, "restart")),
    setting(ctx, "on_crash", el("on_crash", {}, "destroy")),
    ...(ctx.preserved?.top ?? []).map(toElement),
    el(
      "devices",
      {},
      ctx.emulator !== undefined && el("emulator", {}, ctx.emulator),
      ...diskElements(spec, ctx),
      ...rootPortElements(spec, ctx),
      ...nicElements(spec, ctx),
      ...hostdevElements(spec, ctx),
      ...(hostHas(ctx, "serial", "console") ? [] : serialElements()),
      ...graphicsElements(spec),
      ...(hostHas(ctx, "tpm") ? [] : tpmElements(spec)),
      !hostHas(ctx, "memballoon") && balloonElement(spec),
      ...(ctx.preserved?.devices ?? []).map(toElement),
    ),
  );
}
