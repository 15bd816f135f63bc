import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { MoveJournal, MoveRecord } from "../core/cross-move-task";

/**
 * The journal of a cross-hypervisor move, as a file on the machine that runs `pulumi up`.
 * A dynamic provider cannot write Pulumi state in the middle of an update, and a VM half-made
 * on the target cannot say which run made it; a file beside the run can, and it survives a
 * kill -9 of the provider and of the CLI. One file per source VM (host + id), written whole
 * and renamed into place, so a crash never leaves half a record.
 *
 * The directory: NOVACRON_MOVE_JOURNAL_DIR, else ~/.novacron/moves. Each move's scratch space
 * for local disk copies lives beside its record (NOVACRON_MOVE_WORK_DIR moves it elsewhere).
 */
export function moveJournalDir(): string {
  return process.env.NOVACRON_MOVE_JOURNAL_DIR ?? join(homedir(), ".novacron", "moves");
}

export function fileMoveJournal(sourceHost: string, sourceId: string): MoveJournal {
  const dir = moveJournalDir();
  const key = createHash("sha256").update(`${sourceHost}\u0000${sourceId}`).digest("hex").slice(0, 24);
  const file = join(dir, `${key}.json`);
  const workRoot = process.env.NOVACRON_MOVE_WORK_DIR ?? dir;
  return {
    where: file,
    workDir: join(workRoot, `${key}.work`),
    async read(): Promise<MoveRecord | undefined> {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
      const record = JSON.parse(text) as MoveRecord;
      if (record.version !== 1 || record.sourceHost !== sourceHost || record.sourceId !== sourceId) {
        throw new Error(`${file} is not a move record of VM ${sourceId} on host "${sourceHost}"; move it aside and run up again`);
      }
      return record;
    },
    async write(record: MoveRecord): Promise<void> {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const partial = `${file}.${process.pid}.tmp`;
      await writeFile(partial, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      await rename(partial, file);
    },
    async clear(): Promise<void> {
      await rm(file, { force: true });
    },
  };
}
