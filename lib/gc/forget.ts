/**
 * `seamless forget`: drops cached results so that the next run executes. The buffers stay
 * (`seamless gc` removes those nothing needs any more).
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { retryWhileBusy } from "../disk/sqlite.ts";
import { deleteResultRow, openResultRows, type ResultRow } from "./_result-rows.ts";

/**
 * Forgets the cached results of transformations.
 *
 * @param cacheDir the cache directory
 * @param tfChecksums transformation checksums
 * @returns the results that were forgotten (transformations without one are left out)
 */
export function forgetResults(cacheDir: string, tfChecksums: Checksum[]): ResultRow[] {
  const db = openResultRows(cacheDir);
  if (!db) return [];
  try {
    return retryWhileBusy(() => db.transaction(() => {
      const forgotten: ResultRow[] = [];
      for (const tfChecksum of tfChecksums) {
        const row = db.query(`SELECT "result" FROM "transformation" WHERE "checksum" = ?`).get(tfChecksum) as { result: string } | null;
        if (row && deleteResultRow(db, { tfChecksum, resultChecksum: row.result })) forgotten.push({ tfChecksum, resultChecksum: row.result });
      }
      return forgotten;
    }).immediate());
  } finally {
    db.close();
  }
}

/**
 * The transformations a checksum names: itself when it has a cached result, else every
 * transformation whose cached result it is.
 */
export function transformationsNamedBy(cacheDir: string, checksum: Checksum): Checksum[] {
  const db = openResultRows(cacheDir);
  if (!db) return [];
  try {
    if (db.query(`SELECT 1 FROM "transformation" WHERE "checksum" = ?`).get(checksum)) return [checksum];
    return (db.query(`SELECT "checksum" FROM "transformation" WHERE "result" = ?`).values(checksum) as [string][]).map(([tf]) => tf);
  } finally {
    db.close();
  }
}
