/**
 * The writing side of the run log, on the path of every cache hit: one `O_APPEND` write of one
 * JSON line to `run-log/journal.jsonl`, about 0.02 ms. Opening SQLite, inserting and closing
 * cost 1.3–1.9 ms (a WAL checkpoint at close), more than the whole budget of 1 ms, so the
 * SQLite side ({@link RunLog}) folds the journal in when somebody reads the log.
 *
 * Linux serialises `O_APPEND` writes to one regular file, so lines of concurrent runs never
 * interleave. The transformation dict of a run (for `seamless explain`) is written once per
 * transformation checksum, next to the journal.
 * @module
 */
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { runLogDirOf, type RunEntry } from "./entry.ts";

/** The journal file the runs are appended to. */
export const JOURNAL_NAME = "journal.jsonl";

/** What `seamless explain` needs of an earlier run: its dict, and the texts of its code and variables. */
export interface TransformationDetails {
  dict: Record<string, PlainValue>;
  /** Checksum → text, for the code and `str` pins (bounded). */
  texts: Record<Checksum, string>;
}

/** Where the details of a transformation are kept. */
export function detailsPathOf(cacheDir: string, tfChecksum: Checksum): string {
  return join(runLogDirOf(cacheDir), "transformations", tfChecksum.slice(0, 2), `${tfChecksum}.json`);
}

function encodeEntry(entry: RunEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

/**
 * Appends a run to the journal, and the transformation's details when they are not kept yet.
 * Never throws: a run log that cannot be written must not fail the run.
 *
 * @param cacheDir the cache directory
 * @param entry the run
 * @param details the transformation's details, or a function building them (called only when missing)
 * @returns false when the journal could not be written
 */
export function appendRun(cacheDir: string, entry: RunEntry, details?: () => TransformationDetails | null): boolean {
  const dir = runLogDirOf(cacheDir);
  try {
    if (details && entry.tfChecksum) {
      const path = detailsPathOf(cacheDir, entry.tfChecksum);
      if (!existsSync(path)) {
        const value = details();
        if (value) {
          mkdirSync(join(path, ".."), { recursive: true });
          writeFileAtomic(path, JSON.stringify(value));
        }
      }
    }
    let fd: number;
    try {
      fd = openSync(join(dir, JOURNAL_NAME), "a");
    } catch {
      mkdirSync(dir, { recursive: true });
      fd = openSync(join(dir, JOURNAL_NAME), "a");
    }
    try {
      writeSync(fd, encodeEntry(entry));
    } finally {
      closeSync(fd);
    }
    return true;
  } catch {
    return false;
  }
}
