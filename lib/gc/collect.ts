/**
 * Carrying out a gc plan while other `seamless` processes run. Everything happens inside one
 * write transaction on `seamless.db`, which no run can record a result past: the planned rows
 * go (if they still hold the planned result), then the cache is read again, and a planned buffer
 * is removed only if no remaining result needs it (a result recorded since the plan included),
 * no running transformation needs it and no lease holds it. A run that stored a result buffer
 * before the transaction and records it after finds it gone and stores it again
 * (`computeTransformation`).
 * @module
 */
import { rmSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { retryWhileBusy } from "../disk/sqlite.ts";
import { leasedBuffers } from "./lease.ts";
import { statBuffer } from "./inventory.ts";
import { buffersOfRunningTransformations, cacheStoreOf, neededBuffers, type GcPlan } from "./plan.ts";
import { MemberIndex } from "./_references.ts";
import { deleteResultRow, listResultRows, openResultRows } from "./_result-rows.ts";

/** What a collection did. */
export interface GcOutcome {
  removedResults: number;
  removedBuffers: number;
  freedBytes: number;
  /** Planned results that changed meanwhile, or buffers that became needed meanwhile. */
  skipped: number;
}

/**
 * Removes what a plan chose, re-checking every buffer at the moment it goes.
 *
 * @param cacheDir the cache directory
 * @param plan from {@link planGarbageCollection}
 */
export function collectGarbage(cacheDir: string, plan: GcPlan): GcOutcome {
  const outcome: GcOutcome = { removedResults: 0, removedBuffers: 0, freedBytes: 0, skipped: 0 };
  if (plan.results.length === 0) return outcome;
  const db = openResultRows(cacheDir);
  if (!db) return outcome;
  const store = cacheStoreOf(cacheDir);
  const index = new MemberIndex(cacheDir);
  try {
    retryWhileBusy(() => db.transaction(() => {
      outcome.removedResults = 0;
      outcome.removedBuffers = 0;
      outcome.freedBytes = 0;
      outcome.skipped = 0;
      for (const row of plan.results) {
        if (deleteResultRow(db, row)) outcome.removedResults++;
        else outcome.skipped++;
      }
      const remaining = listResultRows(db);
      // Results recorded since the plan are read here (the others' members are in the index).
      const bufferOf = (checksum: Checksum) => statBuffer(store.directory, checksum);
      const members = index.membersOf(new Set(remaining.map((row) => row.resultChecksum)), store, bufferOf);
      const needed = neededBuffers(remaining, members);
      const held = buffersOfRunningTransformations(cacheDir, store, index, bufferOf);
      for (const checksum of leasedBuffers(cacheDir)) held.add(checksum);
      for (const buffer of plan.buffers) {
        if (needed.has(buffer.checksum) || held.has(buffer.checksum)) {
          outcome.skipped++;
          continue;
        }
        for (const path of buffer.paths) rmSync(path, { force: true });
        outcome.removedBuffers++;
        outcome.freedBytes += buffer.bytes;
      }
    }).immediate());
  } finally {
    index.close();
    db.close();
  }
  return outcome;
}
