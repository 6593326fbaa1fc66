/**
 * Opens SQLite files shared by concurrent `seamless` processes: busy timeout first, then WAL.
 * Switching a fresh file to WAL needs an exclusive lock, which SQLite may refuse at once
 * (SQLITE_BUSY) while another process is doing the same, so that step is retried.
 * @module
 */
import { Database, constants as sqliteConstants } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, readSync } from "node:fs";
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

/** Opens (creating if needed) a database for concurrent use. */
export function openSharedDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const wal = isAlreadyWal(path);
  const db = new Database(path, { create: true });
  db.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
  if (!wal) retryWhileBusy(() => db.exec("PRAGMA journal_mode=WAL"));
  return db;
}

/**
 * Opens an existing database that cannot be opened for writing (a cache on a read-only disk or
 * mount), for reading only; null when there is no such file. A WAL database needs its `-shm`
 * file to be opened read-only the ordinary way, which a read-only directory cannot get, so it
 * is opened `immutable`: nobody can change it there anyway.
 */
export function openDatabaseReadOnly(path: string): Database | null {
  if (!existsSync(path)) return null;
  const uri = `file:${encodeURI(path).replaceAll("?", "%3f").replaceAll("#", "%23")}?immutable=1`;
  return new Database(uri, sqliteConstants.SQLITE_OPEN_READONLY | sqliteConstants.SQLITE_OPEN_URI);
}
