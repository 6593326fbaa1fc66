/**
 * `seamless stats`: the cache in numbers: buffers (count, bytes), results, irreproducible
 * results, and from the run log the runs, hit rate and time saved.
 * @module
 */
import { projectDirOf } from "../buffers/cache-dir.ts";
import { hasRunLog, RunLog, type RunTotals } from "../runlog/run-log.ts";
import { measureStore, type StoreSize } from "./inventory.ts";
import { openResultRows } from "./_result-rows.ts";

/** What `seamless stats` shows. */
export interface CacheStats {
  cacheDir: string;
  buffers: StoreSize;
  results: number;
  irreproducible: number;
  runs: RunTotals | null;
}

/**
 * Measures a cache directory.
 *
 * @param cacheDir the cache directory
 * @param nowMs the time "the last week" ends
 */
export function collectCacheStats(cacheDir: string, nowMs: number = Date.now()): CacheStats {
  const stats: CacheStats = { cacheDir, buffers: measureStore(projectDirOf(cacheDir)), results: 0, irreproducible: 0, runs: null };
  const db = openResultRows(cacheDir);
  if (db) {
    try {
      stats.results = (db.query(`SELECT COUNT(*) AS n FROM "transformation"`).get() as { n: number }).n;
      stats.irreproducible = (db.query(`SELECT COUNT(*) AS n FROM "irreproducible_transformation"`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  if (hasRunLog(cacheDir)) {
    const log = new RunLog(cacheDir);
    try {
      stats.runs = log.totals(nowMs);
    } finally {
      log.close();
    }
  }
  return stats;
}
