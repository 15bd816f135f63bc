import type { NicSpec, VirtualMachineSpec } from "../../../core/model";
import { el, type XmlElement } from "./element";
import { LibvirtXmlError } from "./errors";
import type { DomainBuildContext, PassthroughSource } from "./domain-context";
import { compareSlots, slotAlias } from "./slots";
import { isQ35 } from "./domain-disks";

const VNC_PASSWORD_MAX = 8;

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, "0")}`;

function nicElement(slot: string, nic: NicSpec, ctx: DomainBuildContext): XmlElement {
  const mac = nic.mac ?? ctx.macs?.[slot];
  const network = ctx.networks?.[slot] ?? nic.network ?? nic.sriovPool;
  const type = nic.bridge !== undefined ? "bridge" : nic.direct ? "direct" : nic.user ? "user" : nic.ethernet ? "ethernet" : "network";
  const source =
    type === "bridge"
      ? el("source", { bridge: nic.bridge })
      : type === "direct"
        ? el("source", { dev: nic.direct?.device, mode: nic.direct?.mode })
        : type === "network"
          ? el("source", { network })
          : undefined;
  // A VF is the real device: there is no emulated model or vhost backend to configure.
  const emulated = nic.sriovPool === undefined;
  if (emulated && nic.vlan !== undefined) {
    throw new LibvirtXmlError(`nics.${slot}.vlan`, "libvirt tags VLANs only on SR-IOV (sriovPool) and Open vSwitch ports; a Linux bridge port refuses to start with one");
  }
  if (emulated && nic.queues > 1 && nic.model !== "virtio") {
    throw new LibvirtXmlError(`nics.${slot}.queues`, `multiqueue is a virtio-net feature; model "${nic.model}" has one queue (libvirt drops the setting)`);
  }
  // vhost-net leans on KVM's ioeventfd/irqfd; under TCG QEMU's userspace backend is named so libvirt
  // never opens /dev/vhost-net for a guest that cannot use it.
  const driver = emulated && nic.queues > 1 ? el("driver", { name: ctx.type === "kvm" ? "vhost" : "qemu", queues: nic.queues }) : undefined;
  return el(
    "interface",
    { type },
    mac !== undefined && el("mac", { address: mac }),
    source,
    nic.ethernet?.tap !== undefined && el("target", { dev: nic.ethernet.tap }),
    nic.vlan !== undefined && el("vlan", {}, el("tag", { id: nic.vlan })),
    // Not set: libvirt picks its own default model, as on an interface attached without one.
    emulated && nic.model !== "hypervisor-default" && el("model", { type: nic.model }),
    driver,
    nic.bootOrder !== undefined && el("boot", { order: nic.bootOrder }),
    el("alias", { name: slotAlias(slot) }),
  );
}

export function nicElements(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  return Object.keys(spec.nics)
    .sort(compareSlots)
    .map((slot) => nicElement(slot, spec.nics[slot], ctx));
}

function hostdevElement(slot: string, src: PassthroughSource, romBar: boolean): XmlElement {
  const managed = src.managed ?? true;
  if (src.kind === "usb") {
    return el(
      "hostdev",
      { mode: "subsystem", type: "usb", managed },
      el("source", {}, el("vendor", { id: hex(src.vendorId, 4) }), el("product", { id: hex(src.productId, 4) })),
      el("alias", { name: slotAlias(slot) }),
    );
  }
  const a = src.address;
  return el(
    "hostdev",
    { mode: "subsystem", type: "pci", managed },
    el("source", {}, el("address", { domain: hex(a.domain, 4), bus: hex(a.bus, 2), slot: hex(a.slot, 2), function: hex(a.function, 1) })),
    el("rom", { bar: romBar ? "on" : "off" }),
    el("alias", { name: slotAlias(slot) }),
  );
}

export function hostdevElements(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  return Object.keys(spec.passthrough)
    .sort(compareSlots)
    .map((slot) => {
      const { device, romBar } = spec.passthrough[slot];
      const src = ctx.passthrough?.[device];
      if (!src) throw new LibvirtXmlError(`passthrough.${slot}.device`, "the device has no resolved host address (ctx.passthrough)");
      return hostdevElement(slot, src, romBar);
    });
}

/** Graphics console; the password is written into the XML only, never into messages. */
export function graphicsElements(spec: VirtualMachineSpec): XmlElement[] {
  const { kind, listen, password } = spec.console;
  if (kind === "none") return [];
  // The RFB protocol's DES challenge uses 8 bytes of key, and libvirt refuses anything longer.
  if (kind === "vnc" && password !== undefined && password.length > VNC_PASSWORD_MAX) {
    throw new LibvirtXmlError("console.password", `VNC passwords are at most ${VNC_PASSWORD_MAX} characters; use a shorter one or kind "spice"`);
  }
  return [el("graphics", { type: kind, port: -1, autoport: "yes", listen, passwd: password }, el("listen", { type: "address", address: listen }))];
}

/** A serial port on a pty with a console on it: `virsh console` and kernels booted with console=ttyS0 use it. */
export function serialElements(): XmlElement[] {
  return [el("serial", { type: "pty" }, el("target", { port: 0 })), el("console", { type: "pty" }, el("target", { type: "serial", port: 0 }))];
}

export function tpmElements(spec: VirtualMachineSpec): XmlElement[] {
  if (!spec.firmware.tpm) return [];
  return [el("tpm", { model: "tpm-crb" }, el("backend", { type: "emulator", version: "2.0" }))];
}

/**
 * Libvirt adds a virtio balloon when none is written, so it is always written: the stats period is
 * the only part the model controls, and a period of 0 (libvirt omits it) reads back as no balloon settings.
 */
export function balloonElement(spec: VirtualMachineSpec): XmlElement {
  const period = spec.memory.balloon?.statsPeriodSeconds;
  return el("memballoon", { model: "virtio" }, period !== undefined && period > 0 && el("stats", { period }));
}

export function rootPortElements(spec: VirtualMachineSpec, ctx: DomainBuildContext): XmlElement[] {
  if (!isQ35(spec.machine)) return [];
  const ports = ctx.hotplugRootPorts ?? 4;
  if (ports === 0) return [];
  // An index-less controller would take index 0, which q35 reserves for its pcie-root.
  return [el("controller", { type: "pci", index: 0, model: "pcie-root" }), ...Array.from({ length: ports }, () => el("controller", { type: "pci", model: "pcie-root-port" }))];
}
