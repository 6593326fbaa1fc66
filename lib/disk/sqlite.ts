/**
 * The one SQLite opener ({@link openDatabase}) and the retry of a busy database. Files shared by
 * concurrent `seamless` processes get a busy timeout first, then WAL. Switching a fresh file to
 * WAL needs an exclusive lock, which SQLite may refuse at once (SQLITE_BUSY) while another
 * process is doing the same, so that step is retried.
 * @module
 */
import { Database, constants as sqliteConstants } from "bun:sqlite";
import { closeSync, mkdirSync, openSync, readSync } from "node:fs";
import { dirname } from "node:path";

const BUSY_TIMEOUT_MS = 10_000;

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(String((error as Error)?.message ?? error));
}

/** Runs `work`, retrying while SQLite answers "database is locked". */
export function retryWhileBusy<T>(work: () => T, deadlineMs = BUSY_TIMEOUT_MS): T {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return work();
    } catch (error) {
      if (!isBusy(error) || Date.now() > deadline) throw error;
      Bun.sleepSync(5 + Math.random() * 20);
    }
  }
}

/**
 * True when the file's header already says WAL (bytes 18 and 19 are 2). WAL mode persists in
 * the file, and asking for it again costs 2–5 ms: most of a cache hit's database time.
 */
function isAlreadyWal(path: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    const header = Buffer.alloc(20);
    return readSync(fd, header, 0, 20, 0) === 20 && header[18] === 2 && header[19] === 2;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * How {@link openDatabase} opens a file:
 * - `"shared"`: created if missing (with its directory), a busy timeout, then WAL: a file that
 *   many `seamless` processes read and write at once (the embedded cache, the run log, the
 *   stat cache, gc's bookkeeping, a writable `seamless database`).
 * - `"exclusive"`: created if missing (with its directory), read-write, and no busy timeout, so
 *   that a lock held elsewhere fails at once; the caller sets its own journal and locking mode
 *   (the queue database checks an existing file before anything writes to it).
 * - `"read-only"`: an existing file, read only, with SQLite's ordinary locking, for a file
 *   that another process may still write.
 * - `"immutable"`: an existing file that cannot be opened for writing (a cache on a read-only
 *   disk or mount). A WAL database needs its `-shm` file to be opened read-only the ordinary
 *   way, which a read-only directory cannot get, so it is opened `immutable`: nobody can
 *   change it there anyway.
 */
export type DatabaseAccess = "shared" | "exclusive" | "read-only" | "immutable";

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** How the file is opened; `"shared"` when absent. */
  access?: DatabaseAccess;
  /** bun:sqlite's `strict` binding (named parameters without their prefix); not for `"immutable"`. */
  strict?: boolean;
}

/**
 * The one SQLite opener of `seamless`: every database file is opened here, so the shared
 * settings (busy timeout, WAL, read-only handling) are written once. `":memory:"` gives a
 * private in-memory database (a fallback when the file cannot be used).
 *
 * @param path the database file, or `":memory:"`
 * @param options how to open it
 * @returns the open database
 * @throws {Error} what bun:sqlite throws for a file it cannot open (missing, for the read-only
 *   modes; unreadable; not a database)
 * @example A private in-memory database
 * ```ts
 * const db = openDatabase(":memory:");
 * assertEquals(db.query("SELECT 1 AS one").get(), { one: 1 });
 * ```
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const { access = "shared", strict } = options;
  const flags = strict ? { strict: true } : {};
  if (path === ":memory:") return new Database(path, flags);
  switch (access) {
    case "shared": {
      mkdirSync(dirname(path), { recursive: true });
      const wal = isAlreadyWal(path);
      const db = new Database(path, { create: true, ...flags });
      db.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
      if (!wal) retryWhileBusy(() => db.exec("PRAGMA journal_mode=WAL"));
      return db;
    }
    case "exclusive": {
      mkdirSync(dirname(path), { recursive: true });
      const db = new Database(path, { create: true, readwrite: true, ...flags });
      db.exec("PRAGMA busy_timeout=0");
      return db;
    }
    case "read-only":
      return new Database(path, { readonly: true, ...flags });
    case "immutable": {
      const uri = `file:${encodeURI(path).replaceAll("?", "%3f").replaceAll("#", "%23")}?immutable=1`;
      return new Database(uri, sqliteConstants.SQLITE_OPEN_READONLY | sqliteConstants.SQLITE_OPEN_URI);
    }
  }
}
