/**
 * PVE's property strings: `virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=5`. The first item may be
 * a bare value for the format's default key (the volume of a drive); a NIC puts its model as
 * the key and its MAC as the value.
 */
export interface PropertyString {
  /** The bare leading value, if any (a drive's volume). */
  head?: string;
  props: Map<string, string>;
}

export function parseProps(text: string): PropertyString {
  const props = new Map<string, string>();
  let head: string | undefined;
  text.split(",").forEach((part, i) => {
    if (part === "") return;
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (i === 0) head = part;
      else props.set(part, "");
    } else {
      props.set(part.slice(0, eq), part.slice(eq + 1));
    }
  });
  return { head, props };
}

/** The head first, then the properties in the order given. */
export function formatProps(head: string | undefined, props: Iterable<[string, string | number | undefined]>): string {
  const parts = head === undefined ? [] : [head];
  for (const [key, value] of props) if (value !== undefined) parts.push(`${key}=${value}`);
  return parts.join(",");
}

/** PVE sizes such as `32G`, `512M`, `1T`, `4096` (bytes when no unit) → GiB. */
export function sizeToGiB(size: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size ?? "");
  if (!m) return undefined;
  const factor = { "": 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[m[2] as "" | "K" | "M" | "G" | "T"];
  return Number(m[1]) * factor;
}
