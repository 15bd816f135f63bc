import { configure } from "../../provider/dynamic/runtime";

/**
 * Points the in-process runtime at `hosts`, as the engine's Configure call does. The runtime
 * keeps the hosts it read first for the life of the process, so a test that only sets
 * NOVACRON_HOSTS would see whatever an earlier test file configured.
 */
export async function useHosts(hosts: Record<string, unknown>): Promise<void> {
  const json = JSON.stringify(hosts);
  process.env.NOVACRON_HOSTS = json;
  await configure({ config: { get: (key: string) => (key === "novacron:hosts" ? json : undefined) } } as unknown as Parameters<typeof configure>[0]);
}
