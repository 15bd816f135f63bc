/**
 * How disruptive a change is, from least to most. The order is the order of the array:
 * a plan is as disruptive as its worst field.
 */
export const DISRUPTIONS = ["none", "live", "hotplug", "migrate", "reboot", "cold", "replace"] as const;
export type Disruption = (typeof DISRUPTIONS)[number];

export const DISRUPTION_MEANING: Record<Disruption, string> = {
  none: "recorded only; the VM is not touched",
  live: "applied to the running VM without interruption",
  hotplug: "a device is attached or detached while the guest runs",
  migrate: "the VM moves to another host (live where both sides allow)",
  reboot: "applied by restarting the guest",
  cold: "applied while the VM is powered off, then started again",
  replace: "the VM is destroyed and created again",
};

export function worstOf(disruptions: Iterable<Disruption>): Disruption {
  let worst = 0;
  for (const d of disruptions) worst = Math.max(worst, DISRUPTIONS.indexOf(d));
  return DISRUPTIONS[worst];
}

/** Changes in these classes stop the guest, so they need `updatePolicy.allowReboot`. */
export function needsRestart(d: Disruption): boolean {
  return d === "reboot" || d === "cold";
}
