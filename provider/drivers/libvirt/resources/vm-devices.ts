import type { VirtualMachineSpec } from "../../../core/model";
import type { DomainBuildContext } from "../xml";
import { render, type XmlElement } from "../xml/element";
import { diskElements } from "../xml/domain-disks";
import { nicElements } from "../xml/domain-devices";
import { slotToTargetDev } from "../xml";
import { slotAlias } from "../xml/slots";

/**
 * The XML of one device, cut from what the full builder makes for the whole VM, so a hot-plugged
 * device is exactly what a fresh definition would contain.
 */
export function deviceXml(kind: "disk" | "nic", spec: VirtualMachineSpec, ctx: DomainBuildContext, slot: string): string {
  const candidates = kind === "disk" ? diskElements(spec, ctx).filter((e) => e.name === "disk") : nicElements(spec, ctx);
  const match = kind === "disk" ? candidates.find((e) => targetDev(e) === slotToTargetDev(slot)) : candidates.find((e) => aliasOf(e) === slotAlias(slot));
  if (!match) throw new Error(`${kind === "disk" ? "disks" : "nics"}.${slot}: not found in the built definition`);
  return render(match);
}

function targetDev(e: XmlElement): string | undefined {
  const target = e.children.find((c): c is XmlElement => typeof c !== "string" && c.name === "target");
  return target?.attrs.dev as string | undefined;
}

function aliasOf(e: XmlElement): string | undefined {
  const alias = e.children.find((c): c is XmlElement => typeof c !== "string" && c.name === "alias");
  return alias?.attrs.name as string | undefined;
}
