// Datastore file transfer over HTTPS, the data path of a cross-hypervisor move on vSphere:
// GET/PUT /folder/<path>?dcPath=<datacenter>&dsName=<datastore>, authorised by the vim25
// session cookie. Each transfer opens its own HTTP client, so a multi-GiB body never queues
// behind (or blocks) SOAP calls on the shared pool. Bodies stream with backpressure.
import type { Readable } from "node:stream";
import { Client } from "undici";
import type { VimClient } from "./soap";

export interface DatastoreFile {
  datacenter: string;
  datastore: string;
  /** Path inside the datastore, e.g. "web/web.vmdk". */
  path: string;
}

/** The address vSphere itself writes: "[datastore] folder/file". */
export function datastorePath(file: DatastoreFile): string {
  return `[${file.datastore}] ${file.path}`;
}

function target(vim: VimClient, file: DatastoreFile): { client: Client; path: string; headers: Record<string, string> } {
  const url = new URL(vim.options.url);
  const cookie = vim.transport.sessionCookie;
  if (!cookie) throw new Error(`vSphere ${url.origin}: no session for a datastore transfer (log in first)`);
  const ca = vim.options.ca;
  const client = new Client(url.origin, {
    connect: { rejectUnauthorized: vim.options.insecure !== true, ...(ca === undefined ? {} : { ca: typeof ca === "string" || Buffer.isBuffer(ca) ? ca : [...ca] }) },
    // Transfers take as long as the bytes take; a stalled peer still fails after a minute of silence.
    headersTimeout: 300_000,
    bodyTimeout: 60_000,
  });
  const encoded = file.path
    .split("/")
    .map((p) => encodeURIComponent(p))
    .join("/");
  const query = new URLSearchParams({ dcPath: file.datacenter, dsName: file.datastore });
  return { client, path: `/folder/${encoded}?${query}`, headers: { cookie } };
}

/** The file's bytes as a stream; the HTTP client closes when the stream ends or fails. */
export async function downloadDatastoreFile(vim: VimClient, file: DatastoreFile): Promise<{ body: Readable; size: number }> {
  const { client, path, headers } = target(vim, file);
  try {
    const res = await client.request({ path, method: "GET", headers });
    if (res.statusCode !== 200) {
      const text = (await res.body.text()).slice(0, 300);
      throw new Error(`download ${datastorePath(file)}: HTTP ${res.statusCode} ${text}`.trim());
    }
    const body = res.body as unknown as Readable;
    const close = () => void client.close().catch(() => undefined);
    body.once("end", close);
    body.once("error", close);
    body.once("close", close);
    return { body, size: Number(res.headers["content-length"] ?? 0) };
  } catch (error) {
    await client.destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * Writes exactly `size` bytes from `source` to the file. A body that ends short or breaks off
 * fails the request, so no truncated file is reported as written.
 */
export async function uploadDatastoreFile(vim: VimClient, file: DatastoreFile, source: Readable, size: number): Promise<void> {
  const { client, path, headers } = target(vim, file);
  try {
    const res = await client.request({
      path,
      method: "PUT",
      headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(size) },
      body: source,
    });
    const text = (await res.body.text()).slice(0, 300);
    if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`upload ${datastorePath(file)}: HTTP ${res.statusCode} ${text}`.trim());
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Size of the file, or undefined when it is absent. */
export async function datastoreFileSize(vim: VimClient, file: DatastoreFile): Promise<number | undefined> {
  const { client, path, headers } = target(vim, file);
  try {
    const res = await client.request({ path, method: "HEAD", headers });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw new Error(`stat ${datastorePath(file)}: HTTP ${res.statusCode}`);
    return Number(res.headers["content-length"] ?? 0);
  } finally {
    await client.close().catch(() => undefined);
  }
}
