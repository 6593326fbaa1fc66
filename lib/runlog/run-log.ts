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
import { openDatabase, retryWhileBusy } from "../disk/sqlite.ts";
import { runLogDirOf, RUN_OUTCOMES, type RunEntry, type RunOutcome, type StoredRun } from "./entry.ts";
import { JOURNAL_NAME } from "./append.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, cwd TEXT NOT NULL, command TEXT NOT NULL, source TEXT NOT NULL,
    tf_checksum TEXT, result_checksum TEXT, outcome TEXT NOT NULL, elapsed_ms REAL, execution_ms REAL, saved_ms REAL,
    stderr TEXT, error TEXT, pid INTEGER)`,
  `CREATE INDEX IF NOT EXISTS run_time ON run (time_ms)`,
  // No index on the checksums: random keys made ingesting 100k runs ~5x slower, and `log show
  // CHECKSUM` scans newest first, stopping at the first match.
  `CREATE INDEX IF NOT EXISTS run_command ON run (command, time_ms)`,
  // Covers the sum of the time saved over the last week without reading the rows.
  `CREATE INDEX IF NOT EXISTS run_saved ON run (time_ms, saved_ms)`,
  // Kept up to date by the one writer (the journal's ingestion), so that stats and gc need not scan the runs.
  `CREATE TABLE IF NOT EXISTS outcome_total (outcome TEXT PRIMARY KEY, runs INTEGER NOT NULL, saved_ms REAL NOT NULL, execution_ms REAL NOT NULL, first_ms INTEGER, last_ms INTEGER)`,
  `CREATE TABLE IF NOT EXISTS transformation_use (tf_checksum TEXT PRIMARY KEY, last_ms INTEGER NOT NULL, runs INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS journal_file (inode INTEGER PRIMARY KEY, offset INTEGER NOT NULL)`,
];

/** Sums of the runs of one outcome, gathered while ingesting. */
type OutcomeSums = { runs: number; savedMs: number; executionMs: number; firstMs: number; lastMs: number };

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
    this.#db = openDatabase(runLogPathOf(cacheDir));
    const exists = this.#db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='outcome_total'`).get();
    if (!exists) retryWhileBusy(() => this.#db.transaction(() => this.#createSchema()).immediate());
    this.ingestJournal();
  }

  /** Creates the tables; a log from before the totals were kept gets them from its rows. */
  #createSchema(): void {
    if (this.#db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='outcome_total'`).get()) return;
    const older = this.#db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='run'`).get();
    for (const statement of SCHEMA) this.#db.exec(statement);
    if (!older) return;
    this.#db.exec(`INSERT INTO outcome_total SELECT outcome, COUNT(*), TOTAL(saved_ms), TOTAL(execution_ms), MIN(time_ms), MAX(time_ms) FROM run GROUP BY outcome`);
    this.#db.exec(`INSERT INTO transformation_use SELECT tf_checksum, MAX(time_ms), COUNT(*) FROM run WHERE tf_checksum IS NOT NULL GROUP BY tf_checksum`);
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
      const sums = new Map<string, OutcomeSums>();
      const uses = new Map<string, { lastMs: number; runs: number }>();
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
                const sum = sums.get(entry.outcome) ?? { runs: 0, savedMs: 0, executionMs: 0, firstMs: entry.timeMs, lastMs: entry.timeMs };
                sum.runs++;
                sum.savedMs += entry.savedMs ?? 0;
                sum.executionMs += entry.executionMs ?? 0;
                sum.firstMs = Math.min(sum.firstMs, entry.timeMs);
                sum.lastMs = Math.max(sum.lastMs, entry.timeMs);
                sums.set(entry.outcome, sum);
                if (entry.tfChecksum) {
                  const use = uses.get(entry.tfChecksum) ?? { lastMs: entry.timeMs, runs: 0 };
                  use.runs++;
                  use.lastMs = Math.max(use.lastMs, entry.timeMs);
                  uses.set(entry.tfChecksum, use);
                }
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
      this.#addTotals(sums, uses);
      return added;
    }).immediate());
  }

  #addTotals(sums: Map<string, OutcomeSums>, uses: Map<string, { lastMs: number; runs: number }>): void {
    const total = this.#db.query(`INSERT INTO outcome_total (outcome, runs, saved_ms, execution_ms, first_ms, last_ms) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(outcome) DO UPDATE SET runs = runs + excluded.runs, saved_ms = saved_ms + excluded.saved_ms, execution_ms = execution_ms + excluded.execution_ms,
        first_ms = MIN(first_ms, excluded.first_ms), last_ms = MAX(last_ms, excluded.last_ms)`);
    for (const [outcome, sum] of sums) total.run(outcome, sum.runs, sum.savedMs, sum.executionMs, sum.firstMs, sum.lastMs);
    const use = this.#db.query(`INSERT INTO transformation_use (tf_checksum, last_ms, runs) VALUES (?, ?, ?)
      ON CONFLICT(tf_checksum) DO UPDATE SET last_ms = MAX(last_ms, excluded.last_ms), runs = runs + excluded.runs`);
    for (const [tf, { lastMs, runs }] of uses) use.run(tf, lastMs, runs);
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
    const row = this.#db.query(`SELECT * FROM run WHERE substr(tf_checksum, 1, ?1) = ?2 OR substr(result_checksum, 1, ?1) = ?2 ORDER BY id DESC LIMIT 1`).get(hex.length, hex) as RunRow | null;
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
    return new Map(this.#db.query(`SELECT tf_checksum, last_ms FROM transformation_use`).values() as [string, number][]);
  }

  /** Counts and sums over the whole log. */
  totals(nowMs: number = Date.now()): RunTotals {
    const byOutcome = Object.fromEntries(RUN_OUTCOMES.map((outcome) => [outcome, 0])) as Record<RunOutcome, number>;
    let runs = 0;
    let savedMs = 0;
    let executedMs = 0;
    let firstMs: number | null = null;
    let lastMs: number | null = null;
    const rows = this.#db.query(`SELECT outcome, runs, saved_ms, execution_ms, first_ms, last_ms FROM outcome_total`).values() as [RunOutcome, number, number, number, number, number][];
    for (const [outcome, count, saved, executed, first, last] of rows) {
      byOutcome[outcome] = count;
      runs += count;
      savedMs += saved;
      executedMs += executed;
      firstMs = firstMs === null ? first : Math.min(firstMs, first);
      lastMs = lastMs === null ? last : Math.max(lastMs, last);
    }
    const week = this.#db.query(`SELECT TOTAL(saved_ms) AS saved FROM run INDEXED BY run_saved WHERE time_ms >= ?`).get(nowMs - 7 * 86400_000) as { saved: number };
    const answered = byOutcome["cache hit"] + byOutcome.joined;
    const decided = answered + byOutcome.executed;
    return { runs, byOutcome, hitRate: decided ? answered / decided : null, savedMs, savedLastWeekMs: week.saved, executedMs, firstMs, lastMs };
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
