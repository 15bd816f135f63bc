/**
 * How disruptive a change is, from least to most. The order is the order of the array:
 * a plan is as disruptive as its worst field.
 */
export const DISRUPTIONS = ["none", "live", "hotplug", "migrate", "reboot", "cold", "replace"] as const;
export type Disruption = (typeof DISRUPTIONS)[number];

export function worstOf(disruptions: Iterable<Disruption>): Disruption {
  let worst = 0;
  for (const d of disruptions) worst = Math.max(worst, DISRUPTIONS.indexOf(d));
  return DISRUPTIONS[worst];
}

/** Changes in these classes stop the guest, so they need `updatePolicy.allowReboot`. */
export function needsRestart(d: Disruption): boolean {
  return d === "reboot" || d === "cold";
}
