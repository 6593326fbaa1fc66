/**
 * The rows of `seamless.db` (the Python schema, services-spec §3.5) that gc and forget read and
 * remove. Removing a result is what PUT `transformation` never does: the `transformation`
 * row, its `rev_transformation` rows and its `meta_data` execution record go together, so no
 * reverse row or record is left pointing at a result that is gone.
 * @module
 */
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { openDatabase } from "../disk/sqlite.ts";
import { resultCachePathOf } from "../buffers/cache-dir.ts";

/** A cached result. */
export interface ResultRow {
  tfChecksum: Checksum;
  resultChecksum: Checksum;
}

/** Opens `seamless.db` of a cache directory, or null when there is none. */
export function openResultRows(cacheDir: string): Database | null {
  const path = resultCachePathOf(cacheDir);
  if (!existsSync(path)) return null;
  const db = openDatabase(path);
  const exists = db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='transformation'`).get();
  if (!exists) {
    db.close();
    return null;
  }
  return db;
}

/** Every cached result. */
export function listResultRows(db: Database): ResultRow[] {
  return (db.query(`SELECT "checksum", "result" FROM "transformation"`).values() as [string, string][]).map(([tfChecksum, resultChecksum]) => ({ tfChecksum, resultChecksum }));
}

/**
 * Removes one result row (with its reverse rows and execution record) if it still holds
 * `resultChecksum`; call inside a transaction.
 *
 * @returns whether it was removed
 */
export function deleteResultRow(db: Database, row: ResultRow): boolean {
  const removed = db.query(`DELETE FROM "transformation" WHERE "checksum" = ? AND "result" = ?`).run(row.tfChecksum, row.resultChecksum).changes > 0;
  if (!removed) return false;
  db.query(`DELETE FROM "rev_transformation" WHERE "checksum" = ? AND "result" = ?`).run(row.tfChecksum, row.resultChecksum);
  db.query(`DELETE FROM "meta_data" WHERE "checksum" = ?`).run(row.tfChecksum);
  return true;
}
