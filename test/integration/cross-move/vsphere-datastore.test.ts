import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { datastoreFileSize, downloadDatastoreFile, uploadDatastoreFile } from "../../../provider/drivers/vsphere/datastore-files";
import { getProperties, lookup, VimClient } from "../../../provider/drivers/vsphere/soap";
import { DATACENTER, uniqueName, vcsim } from "../vsphere/testbed";

const DATASTORE = "LocalDS_0";

/** A body in 1 MiB pieces, so the upload is a stream and never one buffer. */
function pieces(bytes: Buffer, breakAfter?: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (breakAfter !== undefined && at >= breakAfter) {
        this.destroy(new Error("connection cut by the test"));
        return;
      }
      if (at >= bytes.length) return void this.push(null);
      this.push(bytes.subarray(at, at + 1048576));
      at += 1048576;
    },
  });
}

describe("vSphere datastore file transfer against vcsim (its datastore is a real directory)", function () {
  this.timeout(60_000);
  let vim: VimClient;
  let root: string;
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  before(async () => {
    vim = new VimClient(vcsim().options);
    await vim.connect();
    const ds = await lookup(vim, "datastore", DATASTORE, DATACENTER);
    const url = (await getProperties(vim, ds, ["summary.url"])).props.get("summary.url")?.text ?? "";
    root = url.replace(/^ds:\/\//, "");
    assert.ok(existsSync(root), `datastore directory ${root}`);
  });
  const made: string[] = [];
  after(async () => {
    for (const p of made) rmSync(join(root, p), { force: true });
    await vim.logout();
  });

  it("PUT writes the exact bytes into the datastore directory; GET and HEAD read them back", async () => {
    const bytes = Buffer.concat([randomBytes(9 * 1048576 + 123), Buffer.from("NOVACRON".repeat(1000))]);
    const file = { datacenter: DATACENTER, datastore: DATASTORE, path: `${uniqueName("nc-xmove")}.vmdk` };
    made.push(file.path);
    await uploadDatastoreFile(vim, file, pieces(bytes), bytes.length);
    assert.equal(sha(readFileSync(join(root, file.path))), sha(bytes), "bytes on the datastore directory");
    assert.equal(await datastoreFileSize(vim, file), bytes.length);
    const { body, size } = await downloadDatastoreFile(vim, file);
    assert.equal(size, bytes.length);
    const got: Buffer[] = [];
    for await (const c of body) got.push(c as Buffer);
    assert.equal(sha(Buffer.concat(got)), sha(bytes));
  });

  it("an upload cut mid-way fails instead of reporting a written file", async () => {
    const bytes = randomBytes(8 * 1048576);
    const file = { datacenter: DATACENTER, datastore: DATASTORE, path: `${uniqueName("nc-xmove-cut")}.vmdk` };
    made.push(file.path);
    await assert.rejects(uploadDatastoreFile(vim, file, pieces(bytes, 3 * 1048576), bytes.length));
    const left = await datastoreFileSize(vim, file);
    assert.ok(left === undefined || left < bytes.length, `a cut upload left ${left} bytes, reported as less than the whole`);
  });

  it("an absent file is a clear HTTP error naming the datastore path", async () => {
    const file = { datacenter: DATACENTER, datastore: DATASTORE, path: "no-such-dir/none.vmdk" };
    assert.equal(await datastoreFileSize(vim, file), undefined);
    await assert.rejects(downloadDatastoreFile(vim, file), /\[LocalDS_0\] no-such-dir\/none\.vmdk: HTTP 404/);
  });
});
