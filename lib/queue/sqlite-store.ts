/**
 * {@link JobStore} on SQLite (bun:sqlite): WAL, one transaction per transition, a schema
 * version in `meta`. The connection holds SQLite's exclusive lock for its whole life
 * (`locking_mode=EXCLUSIVE`), so a second daemon on the same file is refused by the operating
 * system's lock, which dies with the process even on `kill -9`. An existing file is checked
 * before anything is written to it: a corrupt, truncated or foreign file is refused untouched.
 * @module
 */
import type { Database, Statement } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { openDatabase } from "../disk/sqlite.ts";
import { IllegalTransitionError, JobNotFoundError, QueueDatabaseError } from "./errors.ts";
import { TRANSITIONS, type Job, type JobPatch, type JobSpec, type JobState, type TransitionName } from "./job.ts";
import type { GroupSettings, JobFilter, JobStore } from "./store.ts";

/** The schema version this code writes. Version 1 lacked the `label` column. */
export const QUEUE_SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  state TEXT NOT NULL,
  command TEXT NOT NULL,
  plain INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  retries INTEGER NOT NULL,
  timeout_seconds REAL,
  after TEXT NOT NULL,
  grp TEXT NOT NULL,
  workdir TEXT NOT NULL,
  env TEXT NOT NULL,
  dedupe_key TEXT,
  payload TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  paused INTEGER NOT NULL DEFAULT 0,
  submitted_at REAL NOT NULL,
  not_before REAL,
  started_at REAL,
  finished_at REAL,
  exit_code INTEGER,
  result_checksum TEXT,
  wall_seconds REAL,
  cpu_seconds REAL,
  max_rss_bytes INTEGER,
  reason TEXT,
  pid INTEGER,
  pid_start_time TEXT,
  attached_to INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_active ON jobs(state) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, parallel INTEGER NOT NULL, paused INTEGER NOT NULL);
`;

const LABEL_COLUMN = "ALTER TABLE jobs ADD COLUMN label TEXT";

type Row = Record<string, any>;

function rowToJob(row: Row): Job {
  return {
    id: row.id, state: row.state as JobState, command: row.command, plain: row.plain === 1, priority: row.priority,
    retries: row.retries, timeoutSeconds: row.timeout_seconds, after: JSON.parse(row.after), group: row.grp,
    label: row.label ?? null, workdir: row.workdir, env: JSON.parse(row.env), dedupeKey: row.dedupe_key,
    payload: row.payload === null ? null : JSON.parse(row.payload), attempts: row.attempts, paused: row.paused === 1,
    submittedAt: row.submitted_at, notBefore: row.not_before, startedAt: row.started_at, finishedAt: row.finished_at,
    exitCode: row.exit_code, resultChecksum: row.result_checksum, wallSeconds: row.wall_seconds, cpuSeconds: row.cpu_seconds,
    maxRssBytes: row.max_rss_bytes, reason: row.reason, pid: row.pid, pidStartTime: row.pid_start_time, attachedTo: row.attached_to,
  };
}

const PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  attempts: "attempts", notBefore: "not_before", startedAt: "started_at", finishedAt: "finished_at", exitCode: "exit_code",
  resultChecksum: "result_checksum", wallSeconds: "wall_seconds", cpuSeconds: "cpu_seconds", maxRssBytes: "max_rss_bytes",
  reason: "reason", pid: "pid", pidStartTime: "pid_start_time", attachedTo: "attached_to",
};

function isLocked(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(String((error as Error)?.message ?? error));
}

/** Options of {@link SqliteJobStore.open}. */
export interface SqliteJobStoreOptions {
  /** `:memory:` for a store that lives as long as the process (a jobserver may want that). */
  path: string;
}

/** The SQLite job store. */
export class SqliteJobStore implements JobStore {
  readonly #db: Database;
  readonly #statements = new Map<string, Statement>();

  private constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Opens (or creates) a queue database and takes its exclusive lock.
   *
   * @param options where the database lives
   * @returns the store
   * @throws {QueueDatabaseError} when the file is corrupt, not a queue database, of a newer
   *   schema, or held by another process; the file is then left exactly as it was
   * @example Open an in-memory store
   * ```ts
   * const store = SqliteJobStore.open({ path: ":memory:" });
   * const [job] = store.insertJobs([defaultJobSpec("true")], Date.now());
   * assertEquals(job.state, "queued");
   * ```
   */
  static open(options: SqliteJobStoreOptions): SqliteJobStore {
    const { path } = options;
    const existed = path !== ":memory:" && existsSync(path) && statSync(path).size > 0;
    let db: Database;
    try {
      db = openDatabase(path, { access: "exclusive", strict: true });
    } catch (error) {
      throw new QueueDatabaseError(`Cannot open queue database "${path}": ${(error as Error).message}`);
    }
    try {
      if (existed) SqliteJobStore.#checkExisting(db, path);
      db.run("PRAGMA locking_mode = EXCLUSIVE");
      db.run("PRAGMA journal_mode = WAL");
      db.run("PRAGMA synchronous = NORMAL");
      // The exclusive lock is taken by the first write; take it now so a second daemon fails here.
      db.run("BEGIN EXCLUSIVE");
      db.run("COMMIT");
      SqliteJobStore.#migrate(db, path);
    } catch (error) {
      db.close();
      if (error instanceof QueueDatabaseError) throw error;
      if (isLocked(error)) throw new QueueDatabaseError(`Cannot open queue database "${path}": it is in use by another queue daemon`);
      throw new QueueDatabaseError(`Cannot open queue database "${path}": ${(error as Error).message}`);
    }
    return new SqliteJobStore(db);
  }

  static #checkExisting(db: Database, path: string): void {
    let tables: string[];
    try {
      tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row: any) => row.name);
      const check = db.query("PRAGMA quick_check").all().map((row: any) => Object.values(row)[0]);
      if (check.length !== 1 || check[0] !== "ok") throw new Error(String(check.slice(0, 3).join("; ")));
    } catch (error) {
      if (isLocked(error)) throw error;
      throw new QueueDatabaseError(`Queue database "${path}" is corrupt (${(error as Error).message}); left untouched, move it away to start an empty queue`);
    }
    if (!tables.includes("meta") || !tables.includes("jobs")) {
      throw new QueueDatabaseError(`"${path}" is not a queue database; left untouched`);
    }
  }

  static #migrate(db: Database, path: string): void {
    db.transaction(() => {
      const hasMeta = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
      const row = hasMeta ? (db.query("SELECT value FROM meta WHERE key = 'schema_version'").get() as Row | null) : null;
      const version = row ? Number(row.value) : 0;
      if (version > QUEUE_SCHEMA_VERSION) {
        throw new QueueDatabaseError(`Queue database "${path}" has schema version ${version}; this seamless reads up to ${QUEUE_SCHEMA_VERSION}`);
      }
      if (version === 0) {
        db.run(SCHEMA);
        db.run(LABEL_COLUMN);
      } else if (version === 1) {
        db.run(LABEL_COLUMN);
      }
      db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", [String(QUEUE_SCHEMA_VERSION)]);
    })();
  }

  #query(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.query(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  insertJobs(specs: JobSpec[], nowMs: number): Job[] {
    const insert = this.#query(`INSERT INTO jobs (state, command, plain, priority, retries, timeout_seconds, after, grp, label, workdir, env,
      dedupe_key, payload, submitted_at) VALUES ('queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`);
    return this.#db.transaction(() => specs.map((spec) => rowToJob(insert.get(
      spec.command, spec.plain ? 1 : 0, spec.priority, spec.retries, spec.timeoutSeconds, JSON.stringify(spec.after), spec.group,
      spec.label, spec.workdir, JSON.stringify(spec.env), spec.dedupeKey, spec.payload === null ? null : JSON.stringify(spec.payload), nowMs,
    ) as Row)))();
  }

  getJob(id: number): Job | null {
    const row = this.#query("SELECT * FROM jobs WHERE id = ?").get(id) as Row | null;
    return row ? rowToJob(row) : null;
  }

  listJobs(filter: JobFilter): Job[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => "?").join(", ")})`);
      args.push(...filter.states);
    }
    if (filter.group !== undefined) (where.push("grp = ?"), args.push(filter.group));
    if (filter.label !== undefined) (where.push("label = ?"), args.push(filter.label));
    if (filter.beforeId !== undefined) (where.push("id < ?"), args.push(filter.beforeId));
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    return (this.#query(sql).all(...args, filter.limit) as Row[]).map(rowToJob);
  }

  loadActiveJobs(): Job[] {
    return (this.#query("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY id").all() as Row[]).map(rowToJob);
  }

  transition(id: number, name: TransitionName, patch: JobPatch): Job {
    const { from, to } = TRANSITIONS[name];
    return this.#db.transaction(() => {
      const row = this.#query("SELECT state FROM jobs WHERE id = ?").get(id) as Row | null;
      if (!row) throw new JobNotFoundError(id);
      if (!(from as readonly string[]).includes(row.state)) throw new IllegalTransitionError(id, name, row.state);
      const sets = ["state = ?"];
      const args: (string | number | null)[] = [to];
      for (const [key, value] of Object.entries(patch)) {
        sets.push(`${PATCH_COLUMNS[key as keyof JobPatch]} = ?`);
        args.push(value as string | number | null);
      }
      return rowToJob(this.#query(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ? RETURNING *`).get(...args, id) as Row);
    })();
  }

  setProcess(id: number, pid: number, pidStartTime: string | null): void {
    this.#query("UPDATE jobs SET pid = ?, pid_start_time = ? WHERE id = ?").run(pid, pidStartTime, id);
  }

  setPaused(id: number, paused: boolean): void {
    this.#query("UPDATE jobs SET paused = ? WHERE id = ?").run(paused ? 1 : 0, id);
  }

  deleteFinished(beforeMs: number): number[] {
    const rows = this.#query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND state NOT IN ('queued', 'running') RETURNING id").all(beforeMs) as Row[];
    return rows.map((row) => row.id);
  }

  countByState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const row of this.#query("SELECT state, count(*) AS n FROM jobs GROUP BY state").all() as Row[]) counts[row.state] = row.n;
    return counts;
  }

  getGroups(): GroupSettings[] {
    return (this.#query("SELECT * FROM groups ORDER BY name").all() as Row[]).map((row) => ({ name: row.name, parallel: row.parallel, paused: row.paused === 1 }));
  }

  putGroup(group: GroupSettings): void {
    this.#query("INSERT OR REPLACE INTO groups (name, parallel, paused) VALUES (?, ?, ?)").run(group.name, group.parallel, group.paused ? 1 : 0);
  }

  close(): void {
    for (const statement of this.#statements.values()) statement.finalize();
    this.#statements.clear();
    this.#db.close();
  }
}
