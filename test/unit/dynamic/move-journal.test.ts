import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MoveRecord } from "../../../provider/core/cross-move-task";
import { fileMoveJournal } from "../../../provider/dynamic/move-journal";

describe("cross-hypervisor move journal (a file on the machine that runs up)", () => {
  let dir: string;
  const saved = process.env.NOVACRON_MOVE_JOURNAL_DIR;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nc-journal-"));
    process.env.NOVACRON_MOVE_JOURNAL_DIR = dir;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.NOVACRON_MOVE_JOURNAL_DIR;
    else process.env.NOVACRON_MOVE_JOURNAL_DIR = saved;
  });

  const record: MoveRecord = {
    version: 1,
    sourceHost: "kvm1",
    sourceId: "6f1c3a8e-0000-4000-8000-000000000001",
    targetHost: "vc1",
    vmName: "web",
    phase: "copying",
    sourceWasRunning: true,
    imported: { vda: { pool: "LocalDS_0", name: "web/web-vda.vmdk" } },
    startedAt: "2026-12-05T07:00:00.000Z",
  };

  it("reads back what was written, from a new journal object as the next run would, and forgets it on clear", async () => {
    const first = fileMoveJournal("kvm1", record.sourceId);
    assert.equal(await first.read(), undefined);
    await first.write(record);
    const next = fileMoveJournal("kvm1", record.sourceId);
    assert.deepEqual(await next.read(), record);
    assert.equal(statSync(next.where).mode & 0o777, 0o600);
    // Written whole and renamed: no temp file stays beside the record.
    assert.deepEqual(readdirSync(dir), [next.where.split("/").pop()]);
    await next.clear();
    assert.equal(await first.read(), undefined);
  });

  it("keeps one record per source VM: another VM or host has its own file", async () => {
    await fileMoveJournal("kvm1", record.sourceId).write(record);
    assert.equal(await fileMoveJournal("kvm2", record.sourceId).read(), undefined);
    assert.equal(await fileMoveJournal("kvm1", "another-id").read(), undefined);
    assert.notEqual(fileMoveJournal("kvm1", "a").workDir, fileMoveJournal("kvm1", "b").workDir);
  });
});
