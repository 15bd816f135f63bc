import type { LibvirtSession } from "./session";
import { parseXml } from "./xml/dom";

/** The domain type this host runs guests with: kvm where /dev/kvm exists, else TCG (`qemu`), or the test driver's `test`. */
export type HostDomainType = "kvm" | "qemu" | "test";

const cache = new WeakMap<LibvirtSession, Promise<HostDomainType>>();

export function hostDomainType(session: LibvirtSession): Promise<HostDomainType> {
  let known = cache.get(session);
  if (!known) {
    known = (async () => {
      const client = await session.get();
      const { capabilities } = await client.call("connectGetCapabilities");
      const caps = parseXml(capabilities, "capabilities");
      const types = new Set(
        caps
          .all("guest")
          .filter((g) => g.child("os_type")?.text === "hvm")
          .flatMap(
            (g) =>
              g
                .child("arch")
                ?.all("domain")
                .map((d) => d.attr("type")) ?? [],
          ),
      );
      // libvirt lists kvm whenever the QEMU binary supports it and /dev/kvm exists, even inside a
      // VM without nested virtualisation; only a CPU with vmx/svm can really run it.
      const cpuFeatures = new Set(
        caps
          .at("host", "cpu")
          ?.all("feature")
          .map((f) => f.attr("name")) ?? [],
      );
      if (types.has("kvm") && (cpuFeatures.has("vmx") || cpuFeatures.has("svm"))) return "kvm";
      if (types.has("qemu")) return "qemu";
      if (types.has("test")) return "test";
      throw new Error(`host "${session.host}" offers no hvm guest type NovaCron can use (found: ${[...types].join(", ") || "none"})`);
    })();
    known.catch(() => cache.delete(session));
    cache.set(session, known);
  }
  return known;
}
