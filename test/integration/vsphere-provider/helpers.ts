// Reading outcomes back from vCenter for the provider-host tests.
import { readFileSync } from "node:fs";
import { getProperties, moref, text, xsiType, type MoRef, type VimClient } from "../../../provider/drivers/vsphere/soap";

export { specOf } from "../../support/testbeds";

/** Sessions vCenter holds for NovaCron processes, with the pid their user agent names. */
export async function sessions(client: VimClient): Promise<{ key: string; pid: number }[]> {
  const list = (await getProperties(client, client.serviceContent.ref("sessionManager"), ["sessionList"])).props.get("sessionList");
  return (list?.children ?? []).flatMap((s) => {
    const pid = /^novacron-vsphere \(pid (\d+)\)$/.exec(text(s, "userAgent") ?? "")?.[1];
    return pid ? [{ key: text(s, "key") ?? "", pid: Number(pid) }] : [];
  });
}

export function parentOf(pid: number): number | undefined {
  try {
    return Number(
      readFileSync(`/proc/${pid}/stat`, "utf8")
        .replace(/^.*\) /, "")
        .split(" ")[1],
    );
  } catch {
    return undefined;
  }
}

export async function hostOf(client: VimClient, vm: MoRef): Promise<string | undefined> {
  const ref = moref((await getProperties(client, vm, ["runtime.host"])).props.get("runtime.host"));
  return ref && text((await getProperties(client, ref, ["name"])).props.get("name"));
}

/** vCenter's own event log: how often this VM was powered off. */
export async function powerOffEvents(client: VimClient, vm: MoRef): Promise<number> {
  // Filtered by type on the server: an unfiltered query returns only the latest page of events.
  const filter = { entity: { entity: vm, recursion: "self" }, eventTypeId: ["VmPoweredOffEvent"], maxCount: 1000 };
  const events = await client.invokeAll("QueryEvents", client.serviceContent.ref("eventManager"), { filter });
  return events.filter((e) => xsiType(e) === "VmPoweredOffEvent").length;
}

export async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
