import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByInventoryPath, getProperties, lookup, MoRef, text, VimClient, xsiType } from "../../provider/drivers/vsphere/soap";
import { DATACENTER, vcsim } from "../integration/vsphere/testbed";
import { virsh, virshMaybe } from "./testbeds";

export const URI = "qemu:///system";
export const DATASTORE = "LocalDS_0";

/**
 * Test data for cross-hypervisor moves. The tiny guest does not boot from disk, so the bytes
 * that move are a known pattern written into the source volumes before the move, and read
 * back afterwards from wherever the target keeps them: libvirt volumes by vol-download,
 * vcsim's datastore files straight from its directory. Both are turned into raw with the real
 * qemu-img and hashed, so the comparison is of guest-visible bytes whatever the format.
 */

/** A raw image of `bytes` with random data at its start, middle and end and holes between. */
export function writePattern(path: string, bytes: number, seed: string): string {
  const fd = openSync(path, "w");
  try {
    const mark = Buffer.from(`novacron cross-move test pattern ${seed}\n`.repeat(64));
    for (const [at, piece] of [
      [0, Buffer.concat([mark, randomBytes(1048576)])],
      [Math.floor(bytes / 2 / 4096) * 4096, randomBytes(512 * 1024)],
      [bytes - 8192, randomBytes(8192)],
    ] as const) {
      writeSync(fd, piece, 0, piece.length, at);
    }
  } finally {
    closeSync(fd);
  }
  execFileSync("truncate", ["-s", String(bytes), path]);
  return sha256File(path);
}

export function sha256File(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** sha256 of the guest-visible bytes of an image file of any format qemu-img reads. */
export function guestSha(image: string, format?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "nc-xm-sha-"));
  try {
    const raw = join(dir, "disk.raw");
    execFileSync("qemu-img", ["convert", ...(format ? ["-f", format] : []), "-O", "raw", image, raw]);
    return sha256File(raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the pattern into a (stopped VM's) libvirt volume as qcow2, through libvirt's upload. */
export function uploadPattern(uri: string, pool: string, volume: string, bytes: number, seed: string): string {
  const dir = mkdtempSync(join(tmpdir(), "nc-xm-pat-"));
  try {
    const raw = join(dir, "pattern.raw");
    const sha = writePattern(raw, bytes, seed);
    const qcow2 = join(dir, "pattern.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2]);
    virsh(uri, "vol-upload", "--pool", pool, volume, qcow2);
    return sha;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Guest-visible sha256 of a libvirt volume, downloaded through libvirt; undefined when it is absent. */
export function libvirtVolumeSha(uri: string, pool: string, volume: string): string | undefined {
  if (virshMaybe(uri, "vol-info", "--pool", pool, volume) === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "nc-xm-dl-"));
  try {
    const file = join(dir, "volume");
    virsh(uri, "vol-download", "--pool", pool, volume, file);
    return guestSha(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** vcsim's datastore directory on this machine. */
export async function datastoreRoot(datastore: string): Promise<string> {
  const vim = new VimClient(vcsim().options);
  await vim.connect();
  try {
    const ds = await lookup(vim, "datastore", datastore, DATACENTER);
    const url = (await getProperties(vim, ds, ["summary.url"])).props.get("summary.url")?.text ?? "";
    return url.replace(/^ds:\/\//, "");
  } finally {
    await vim.logout();
  }
}

/** Guest-visible sha256 of a VMDK (descriptor and its extent) in the datastore directory; undefined when absent. */
export function vmdkSha(root: string, path: string): string | undefined {
  const file = join(root, path);
  return existsSync(file) ? guestSha(file, "vmdk") : undefined;
}

/** The descriptor's extent lines, to show what the datastore holds in a failure message. */
export function vmdkExtents(root: string, path: string): string {
  const file = join(root, path);
  if (!existsSync(file)) return "(absent)";
  return readFileSync(file, "latin1")
    .split("\n")
    .filter((l) => /^(RW|RDONLY|NOACCESS) /.test(l))
    .join("; ");
}

/** The vSphere and KVM host entries of a cross-mover stack (vcsim and the real libvirtd). */
export function crossMoverHosts(vcUrl?: string): string {
  const sim = vcsim();
  return JSON.stringify({
    kvm: { driver: "libvirt", uri: URI },
    vc: {
      driver: "vsphere",
      url: vcUrl ?? sim.url,
      username: sim.username,
      password: sim.password,
      datacenter: DATACENTER,
      cluster: "DC0_C0",
      host: "DC0_C0_H0",
      caFile: sim.caFile,
      datastore: DATASTORE,
    },
  });
}

/** A libvirt dir pool of the test's own. */
export function makePool(name: string): void {
  const dir = `/var/lib/novacron-test/${name}`;
  virsh(URI, "pool-define-as", name, "dir", "--target", dir);
  virsh(URI, "pool-build", name);
  virsh(URI, "pool-start", name);
}

export function dropPool(name: string): void {
  for (const vol of (virshMaybe(URI, "vol-list", "--pool", name) ?? "").split("\n").slice(2)) {
    const volume = vol.trim().split(/\s+/)[0];
    if (volume) virshMaybe(URI, "vol-delete", "--pool", name, volume);
  }
  virshMaybe(URI, "pool-destroy", name);
  virshMaybe(URI, "pool-undefine", name);
  rmSync(`/var/lib/novacron-test/${name}`, { recursive: true, force: true });
}

/** The vcsim VM of that name and its power state, or undefined. */
export async function vcVm(vim: VimClient, name: string): Promise<{ id: string; power: string } | undefined> {
  const ref = await findByInventoryPath(vim, `${DATACENTER}/vm/${name}`);
  if (!ref) return undefined;
  const power = (await getProperties(vim, ref, ["runtime.powerState"])).props.get("runtime.powerState")?.text ?? "";
  return { id: ref.value, power };
}

/**
 * libvirt's own lifecycle events of one domain with their timestamps (`virsh event --timestamp`),
 * collected while an `up` runs: when the source domain was undefined, as libvirtd saw it.
 */
export function libvirtEvents(uri: string, domain: string): { stop: () => Promise<{ at: number; text: string }[]> } {
  const child = spawn("virsh", ["-c", uri, "event", "--loop", "--timestamp", "--event", "lifecycle", "--domain", domain], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  return {
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
      return out.split("\n").flatMap((line) => {
        const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d+)([+-]\d{2})(\d{2}): (.*)$/.exec(line.trim());
        return m ? [{ at: Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`), text: m[5] }] : [];
      });
    },
  };
}

/** When vCenter says the VM was powered on (its VmPoweredOnEvents), newest last. */
export async function poweredOnAt(vim: VimClient, vmId: string): Promise<number[]> {
  const filter = { entity: { entity: new MoRef("VirtualMachine", vmId), recursion: "self" }, eventTypeId: ["VmPoweredOnEvent"], maxCount: 100 };
  const events = await vim.invokeAll("QueryEvents", vim.serviceContent.ref("eventManager"), { filter });
  return events
    .filter((e) => xsiType(e) === "VmPoweredOnEvent")
    .map((e) => Date.parse(text(e, "createdTime") ?? ""))
    .sort((a, b) => a - b);
}

/** kill -9 of every process below this one (the CLI, its plugins, the provider host), deepest first. */
export function killEverythingBelowUs(): void {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [pid, ppid] of rows)
      if (ppid === parent) {
        walk(pid);
        found.push(pid);
      }
  };
  walk(process.pid);
  for (const pid of found) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** The move journal files in a directory (NOVACRON_MOVE_JOURNAL_DIR of the test). */
export function journalFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
}
