import { createHash } from "node:crypto";

/** Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the terminating NUL). */
export const IFNAME_MAX = 15;
const PREFIX = "nc-";

/**
 * The host bridge a NovaCron network creates: `nc-<name>` when that fits, otherwise the name cut
 * short plus four hex digits of its hash, so two long names with a common start still differ.
 */
export function bridgeNameFor(networkName: string): string {
  const plain = `${PREFIX}${networkName}`;
  if (plain.length <= IFNAME_MAX) return plain;
  const hash = createHash("sha256").update(networkName).digest("hex").slice(0, 4);
  return `${PREFIX}${networkName.slice(0, IFNAME_MAX - PREFIX.length - 5)}-${hash}`;
}
