/**
 * NovaCron's mark on the VMs it made: the tag `novacron` (visible in PVE's UI and in
 * /cluster/resources, so a lookup by name needs no config read) plus a description block
 * holding the labels. Only a tagged VM is ever adopted, updated or destroyed.
 */
export const OWNER_TAG = "novacron";
const LABEL_LINE = /^novacron-labels: (\{.*\})$/m;
const HEADER = "Managed by NovaCron (Pulumi); the line below holds its labels.";

export function tagsOf(tags: string | undefined): string[] {
  return (tags ?? "").split(/[;, ]+/).filter((t) => t !== "");
}

export function isOwned(tags: string | undefined): boolean {
  return tagsOf(tags).includes(OWNER_TAG);
}

/** The tag list with ours added, other tags kept (PVE sorts and lower-cases them). */
export function withOwnerTag(tags: string | undefined): string {
  const list = tagsOf(tags);
  return (list.includes(OWNER_TAG) ? list : [...list, OWNER_TAG]).sort().join(";");
}

export function descriptionFor(labels: Record<string, string>): string {
  return `${HEADER}\nnovacron-labels: ${JSON.stringify(labels)}`;
}

export function labelsOf(description: string | undefined): Record<string, string> {
  const m = LABEL_LINE.exec(description ?? "");
  if (!m) return {};
  try {
    const parsed = JSON.parse(m[1]) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    }
  } catch {
    // Edited by hand into something unreadable: no labels, and the next update writes them again.
  }
  return {};
}
