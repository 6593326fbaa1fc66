/**
 * Opens SQLite files shared by concurrent `seamless` processes: busy timeout first, then WAL.
 * Switching a fresh file to WAL needs an exclusive lock, which SQLite may refuse at once
 * (SQLITE_BUSY) while another process is doing the same, so that step is retried.
 * @module
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
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

/** Opens (creating if needed) a database for concurrent use. */
export function openSharedDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true });
  db.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
  retryWhileBusy(() => db.exec("PRAGMA journal_mode=WAL"));
  return db;
}
