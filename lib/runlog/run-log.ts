/**
 * The reading side of the run log: `run-log/runs.sqlite` in the cache directory, our own file
 * (not `seamless.db`, whose schema is Python's). Every open folds in what runs have appended
 * to the journal since ({@link appendRun}), in one transaction, so two readers never insert a
 * line twice: the offset read so far is kept per journal inode in the same database.
 * @module
 */
import type { Database } from "bun:sqlite";
import { closeSync, fstatSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { openSharedDatabase, retryWhileBusy } from "../cache/sqlite.ts";
import { runLogDirOf, RUN_OUTCOMES, type RunEntry, type RunOutcome, type StoredRun } from "./entry.ts";
import { JOURNAL_NAME } from "./append.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, cwd TEXT NOT NULL, command TEXT NOT NULL, source TEXT NOT NULL,
    tf_checksum TEXT, result_checksum TEXT, outcome TEXT NOT NULL, elapsed_ms REAL, execution_ms REAL, saved_ms REAL,
    stderr TEXT, error TEXT, pid INTEGER)`,
  `CREATE INDEX IF NOT EXISTS run_time ON run (time_ms)`,
  `CREATE INDEX IF NOT EXISTS run_tf ON run (tf_checksum)`,
  `CREATE INDEX IF NOT EXISTS run_result ON run (result_checksum)`,
  `CREATE INDEX IF NOT EXISTS run_command ON run (command, time_ms)`,
  `CREATE TABLE IF NOT EXISTS journal_file (inode INTEGER PRIMARY KEY, offset INTEGER NOT NULL)`,
];

/** A journal grown past this is renamed aside, read to its end, then removed. */
const ROTATE_AT_BYTES = 8 * 1024 * 1024;

/** A renamed journal is removed once nobody has written to it for this long (writers hold it for microseconds). */
const ROTATED_QUIET_MS = 60_000;

/** The file of the run log database. */
export function runLogPathOf(cacheDir: string): string {
  return join(runLogDirOf(cacheDir), "runs.sqlite");
}

/** Filters of {@link RunLog.list}. */
export interface RunFilter {
  limit?: number;
  sinceMs?: number;
  /** Runs whose command text contains this. */
  command?: string;
}

/** What `seamless stats` shows of the log. */
export interface RunTotals {
  runs: number;
  byOutcome: Record<RunOutcome, number>;
  /** (cache hits + joins) / (cache hits + joins + executed); null without any. */
  hitRate: number | null;
  savedMs: number;
  savedLastWeekMs: number;
  executedMs: number;
  firstMs: number | null;
  lastMs: number | null;
}

type RunRow = {
  id: number; time_ms: number; cwd: string; command: string; source: string; tf_checksum: string | null; result_checksum: string | null;
  outcome: string; elapsed_ms: number | null; execution_ms: number | null; saved_ms: number | null; stderr: string | null; error: string | null; pid: number | null;
};

function runOf(row: RunRow): StoredRun {
  return {
    id: row.id, timeMs: row.time_ms, cwd: row.cwd, command: row.command, source: row.source, tfChecksum: row.tf_checksum,
    resultChecksum: row.result_checksum, outcome: row.outcome as RunOutcome, elapsedMs: row.elapsed_ms ?? 0, executionMs: row.execution_ms,
    savedMs: row.saved_ms, stderr: row.stderr, error: row.error, pid: row.pid ?? 0,
  };
}

function isEntry(value: unknown): value is RunEntry {
  const entry = value as RunEntry;
  return !!entry && typeof entry === "object" && typeof entry.timeMs === "number" && typeof entry.command === "string" && RUN_OUTCOMES.includes(entry.outcome);
}

/** The run log of a cache directory. */
export class RunLog {
  readonly #db: Database;
  readonly #dir: string;

  /**
   * Opens (creating if needed) the log and folds in the journal.
   *
   * @param cacheDir the cache directory
   */
  constructor(cacheDir: string) {
    this.#dir = runLogDirOf(cacheDir);
    this.#db = openSharedDatabase(runLogPathOf(cacheDir));
    const exists = this.#db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='journal_file'`).get();
    if (!exists) retryWhileBusy(() => this.#db.transaction(() => SCHEMA.forEach((statement) => this.#db.exec(statement))).immediate());
    this.ingestJournal();
  }

  /**
   * Moves the lines appended to the journal since the last time into the database.
   *
   * @returns how many runs were added
   */
  ingestJournal(): number {
    let names: string[];
    try {
      names = readdirSync(this.#dir).filter((name) => name.startsWith("journal") && name.endsWith(".jsonl"));
    } catch {
      return 0;
    }
    if (names.length === 0) return 0;
    return retryWhileBusy(() => this.#db.transaction(() => {
      let added = 0;
      const insert = this.#db.query(`INSERT INTO run (time_ms, cwd, command, source, tf_checksum, result_checksum, outcome, elapsed_ms, execution_ms, saved_ms, stderr, error, pid)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const name of names) {
        const path = join(this.#dir, name);
        let fd: number;
        try {
          fd = openSync(path, "r");
        } catch {
          continue; // removed by another reader
        }
        try {
          const stats = fstatSync(fd);
          const row = this.#db.query(`SELECT offset FROM journal_file WHERE inode = ?`).get(stats.ino) as { offset: number } | null;
          let offset = row?.offset ?? 0;
          if (offset > stats.size) offset = 0; // a new file on a reused inode
          if (stats.size > offset) {
            const bytes = Buffer.alloc(stats.size - offset);
            const read = readSync(fd, bytes, 0, bytes.length, offset);
            const end = bytes.subarray(0, read).lastIndexOf(10);
            if (end >= 0) {
              for (const line of bytes.subarray(0, end).toString("utf8").split("\n")) {
                let entry: unknown;
                try {
                  entry = JSON.parse(line);
                } catch {
                  continue; // a line cut by a crash
                }
                if (!isEntry(entry)) continue;
                insert.run(entry.timeMs, entry.cwd ?? "", entry.command, entry.source ?? "run", entry.tfChecksum ?? null, entry.resultChecksum ?? null, entry.outcome,
                  entry.elapsedMs ?? null, entry.executionMs ?? null, entry.savedMs ?? null, entry.stderr ?? null, entry.error ?? null, entry.pid ?? null);
                added++;
              }
              offset += end + 1;
              this.#db.query(`INSERT INTO journal_file (inode, offset) VALUES (?, ?) ON CONFLICT(inode) DO UPDATE SET offset = excluded.offset`).run(stats.ino, offset);
            }
          }
          if (name === JOURNAL_NAME) {
            if (offset >= ROTATE_AT_BYTES) renameSync(path, join(this.#dir, `journal.${Date.now()}.jsonl`));
          } else if (offset >= stats.size && Date.now() - stats.mtimeMs > ROTATED_QUIET_MS) {
            rmSync(path, { force: true });
            this.#db.query(`DELETE FROM journal_file WHERE inode = ?`).run(stats.ino);
          }
        } finally {
          closeSync(fd);
        }
      }
      return added;
    }).immediate());
  }

  /** Runs, newest first. */
  list(filter: RunFilter = {}): StoredRun[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.sinceMs !== undefined) {
      where.push("time_ms >= ?");
      params.push(Math.floor(filter.sinceMs));
    }
    if (filter.command !== undefined) {
      where.push("instr(command, ?) > 0");
      params.push(filter.command);
    }
    params.push(filter.limit ?? -1);
    const sql = `SELECT * FROM run ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time_ms DESC, id DESC LIMIT ?`;
    return (this.#db.query(sql).all(...params) as RunRow[]).map(runOf);
  }

  /**
   * One run: by id, or the newest whose transformation or result checksum starts with the given hex.
   *
   * @returns the run, or null
   */
  find(idOrChecksum: string): StoredRun | null {
    if (/^[0-9]+$/.test(idOrChecksum) && idOrChecksum.length < 16) {
      const row = this.#db.query(`SELECT * FROM run WHERE id = ?`).get(Number(idOrChecksum)) as RunRow | null;
      return row ? runOf(row) : null;
    }
    const hex = idOrChecksum.toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(hex)) return null;
    const high = `${hex}~`; // after every hex digit: a prefix range the indexes can serve
    const row = this.#db.query(`SELECT * FROM run WHERE id = (SELECT MAX(id) FROM (
        SELECT id FROM run WHERE tf_checksum >= ?1 AND tf_checksum < ?2 UNION ALL SELECT id FROM run WHERE result_checksum >= ?1 AND result_checksum < ?2))`).get(hex, high) as RunRow | null;
    return row ? runOf(row) : null;
  }

  /**
   * The newest earlier run of the same command text with a transformation, preferring one
   * from the same working directory.
   */
  nearestByCommand(command: string, cwd: string): StoredRun | null {
    const row = (this.#db.query(`SELECT * FROM run WHERE command = ? AND cwd = ? AND tf_checksum IS NOT NULL ORDER BY time_ms DESC, id DESC LIMIT 1`).get(command, cwd)
      ?? this.#db.query(`SELECT * FROM run WHERE command = ? AND tf_checksum IS NOT NULL ORDER BY time_ms DESC, id DESC LIMIT 1`).get(command)) as RunRow | null;
    return row ? runOf(row) : null;
  }

  /** The newest run time of every transformation in the log (for least-recently-used order). */
  lastUsedByTransformation(): Map<Checksum, number> {
    const rows = this.#db.query(`SELECT tf_checksum AS tf, MAX(time_ms) AS last FROM run WHERE tf_checksum IS NOT NULL GROUP BY tf_checksum`).values() as [string, number][];
    return new Map(rows);
  }

  /** Transformation checksums of the runs of a command text, newest first. */
  transformationsOfCommand(command: string): Checksum[] {
    const rows = this.#db.query(`SELECT tf_checksum FROM run WHERE command = ? AND tf_checksum IS NOT NULL GROUP BY tf_checksum ORDER BY MAX(time_ms) DESC`).values(command) as [string][];
    return rows.map(([tf]) => tf);
  }

  /** Counts and sums over the whole log. */
  totals(nowMs: number = Date.now()): RunTotals {
    const byOutcome = Object.fromEntries(RUN_OUTCOMES.map((outcome) => [outcome, 0])) as Record<RunOutcome, number>;
    for (const [outcome, count] of this.#db.query(`SELECT outcome, COUNT(*) FROM run GROUP BY outcome`).values() as [RunOutcome, number][]) byOutcome[outcome] = count;
    const sums = this.#db.query(`SELECT COUNT(*) AS runs, TOTAL(saved_ms) AS saved, TOTAL(execution_ms) AS executed, MIN(time_ms) AS first, MAX(time_ms) AS last FROM run`).get() as
      { runs: number; saved: number; executed: number; first: number | null; last: number | null };
    const week = this.#db.query(`SELECT TOTAL(saved_ms) AS saved FROM run WHERE time_ms >= ?`).get(nowMs - 7 * 86400_000) as { saved: number };
    const answered = byOutcome["cache hit"] + byOutcome.joined;
    const decided = answered + byOutcome.executed;
    return {
      runs: sums.runs, byOutcome, hitRate: decided ? answered / decided : null, savedMs: sums.saved, savedLastWeekMs: week.saved,
      executedMs: sums.executed, firstMs: sums.first, lastMs: sums.last,
    };
  }

  close(): void {
    this.#db.close();
  }
}

/** Whether a cache directory has a run log at all (without creating one). */
export function hasRunLog(cacheDir: string): boolean {
  try {
    return statSync(runLogDirOf(cacheDir)).isDirectory();
  } catch {
    return false;
  }
}
