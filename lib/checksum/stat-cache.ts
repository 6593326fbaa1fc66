/**
 * A persistent cache of file checksums keyed by (device, inode, decompress) and validated by
 * size, mtime and ctime, so unchanged files are not hashed again. Lives in the cache
 * directory as `stat-cache.sqlite`; it is ours alone and not part of the Python layout.
 *
 * Stamps are plain-number `stat`s: the BigInt kind cost ~1 µs more per file (10k files: 29–38
 * ms against 19–25). Times are then milliseconds as doubles (~0.25 µs steps today), which is
 * exact enough: a change after a recording moves the ctime past the recording time, at least
 * {@link RACY_MARGIN_MS} beyond the recorded ctime (the racy rule). Device and inode numbers
 * above 2^53 are not exact as numbers: such files are simply not cached.
 * @module
 */
import type { Stats } from "node:fs";
import type { Database } from "bun:sqlite";
import { openDatabase, retryWhileBusy } from "../disk/sqlite.ts";
import type { Checksum } from "./checksum.ts";
import { computeChecksum } from "./sha256.ts";
import { compressionSuffixOf } from "./compression.ts";

/** The stat fields that identify one version of a file. */
export interface FileStamp {
  dev: number;
  ino: number;
  size: number;
  /** Milliseconds, with the fraction `stat` gives. */
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * Timestamps are coarse (kernel ticks). An entry recorded less than this long after the
 * file's last change may have missed a later change within the same tick, so it is not
 * trusted: the "racy git" rule.
 */
const RACY_MARGIN_MS = 50;

/**
 * The default size below which files are simply hashed: for a command with a few small inputs,
 * hashing them costs less than opening the cache database. Commands that hash many files
 * (upload, checksum) pass `minBytes: 0`, since a lookup is still cheaper than a read and hash.
 */
export const STAT_CACHE_MIN_BYTES = 64 * 1024;

/** The stamp of a file's `stat`. */
export function stampOf(stats: Stats): FileStamp {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs };
}

/** Whether the stamp's device and inode numbers are exact (see the module note). */
function cacheable(stamp: FileStamp): boolean {
  return Number.isSafeInteger(stamp.ino) && Number.isSafeInteger(stamp.dev);
}

/** A stamp and whether the checksum is of the decompressed bytes. */
export interface StampQuery {
  stamp: FileStamp;
  decompress: boolean;
}

/** Inodes per batched SELECT of {@link StatCache.prefetch}: ~3× cheaper per file than one SELECT each. */
const PREFETCH_BATCH = 256;

/** Below this many files a batched SELECT saves nothing. */
const PREFETCH_FROM = 32;

/**
 * From this many files, a set hashed together is also remembered as a whole
 * ({@link StatCache.lookupSet}): an unchanged tree then costs one query instead of a lookup per file.
 */
export const FILE_SET_MIN_FILES = 256;

/** Larger sets are not remembered whole (32 bytes per file per set). */
const FILE_SET_MAX_FILES = 100_000;

/** How many file sets are kept; the oldest recorded go first. */
const FILE_SETS_KEPT = 16;

/** Numbers per file in a file-set digest: dev, ino, size, mtime, ctime (then a decompress byte each). */
const STAMP_NUMBERS = 5;

type Row = [size: number, mtimeMs: number, ctimeMs: number, recordedMs: number, checksum: string];

/** A list of file versions as {@link StatCache.lookupSet} and {@link StatCache.recordSet} know it. */
export interface FileSet {
  /** SHA-256 of the versions' stamps, in order. */
  digest: string;
  count: number;
  /** The latest mtime or ctime among them, in milliseconds. */
  latestChangeMs: number;
}

/**
 * The {@link FileSet} of these file versions; null for too few or too many to remember whole,
 * or when one of them cannot be cached.
 */
export function fileSetOf(queries: StampQuery[]): FileSet | null {
  return setOf(queries.length, (i) => queries[i]!.stamp, (i) => queries[i]!.decompress);
}

/**
 * {@link fileSetOf} of files from their `stat`s (or stamps) and paths, without a query per file:
 * building 10k of them cost an unchanged tree's upload ~5 ms.
 */
export function fileSetOfFiles(stamps: readonly FileStamp[], paths: readonly string[]): FileSet | null {
  return setOf(stamps.length, (i) => stamps[i]!, (i) => compressionSuffixOf(paths[i]!) !== null);
}

function setOf(count: number, stampAt: (index: number) => FileStamp, decompressAt: (index: number) => boolean): FileSet | null {
  if (count < FILE_SET_MIN_FILES || count > FILE_SET_MAX_FILES) return null;
  const bytes = new Uint8Array(count * (STAMP_NUMBERS * 8 + 1));
  const numbers = new Float64Array(bytes.buffer, 0, count * STAMP_NUMBERS);
  const flags = bytes.subarray(count * STAMP_NUMBERS * 8);
  let latestChangeMs = 0;
  for (let i = 0, at = 0; i < count; i++, at += STAMP_NUMBERS) {
    const stamp = stampAt(i);
    if (!cacheable(stamp)) return null;
    numbers[at] = stamp.dev;
    numbers[at + 1] = stamp.ino;
    numbers[at + 2] = stamp.size;
    numbers[at + 3] = stamp.mtimeMs;
    numbers[at + 4] = stamp.ctimeMs;
    flags[i] = decompressAt(i) ? 1 : 0;
    latestChangeMs = Math.max(latestChangeMs, stamp.mtimeMs, stamp.ctimeMs);
  }
  return { digest: computeChecksum(bytes), count, latestChangeMs };
}

/** A stat-keyed checksum cache backed by SQLite, opened on first use. */
function createStatCacheTables(db: Database): void {
  db.exec("PRAGMA synchronous=OFF");
  // Numbers (not text) and no rowid: ~40% less per lookup and insert than the first layout.
  // Times are REAL milliseconds. Earlier builds used other tables (file_stamp, file_set), left
  // alone: a build still running on them would fail if they went away.
  retryWhileBusy(() => db.exec(
    `CREATE TABLE IF NOT EXISTS file_version (dev INTEGER NOT NULL, ino INTEGER NOT NULL, decompress INTEGER NOT NULL,
     size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, recorded_ms REAL NOT NULL,
     checksum TEXT NOT NULL, PRIMARY KEY (dev, ino, decompress)) WITHOUT ROWID;
     CREATE TABLE IF NOT EXISTS file_version_set (digest TEXT PRIMARY KEY, recorded_ms REAL NOT NULL,
     checksums BLOB NOT NULL) WITHOUT ROWID`,
  ));
}

export class StatCache {
  #path: string;
  #opened: {
    db: Database;
    select: ReturnType<Database["prepare"]>;
    selectBatch: ReturnType<Database["prepare"]>;
    upsert: ReturnType<Database["prepare"]>;
    selectSet: ReturnType<Database["prepare"]>;
    upsertSet: ReturnType<Database["prepare"]>;
    pruneSets: ReturnType<Database["prepare"]>;
  } | null = null;
  #pending = 0;
  /** Rows fetched by {@link prefetch}: decompress flag → device → inode → row (null where there is none). */
  #prefetched = [new Map<number, Map<number, Row | null>>(), new Map<number, Map<number, Row | null>>()] as const;

  /** Files smaller than this are not looked up or recorded. */
  readonly minBytes: number;
  readonly #clock: () => number;

  /**
   * @param path the SQLite file (created on first use)
   * @param options `minBytes`: smaller files are simply hashed; `clock`: milliseconds since the
   *   epoch, `Date.now` by default (tests pass one ahead of the real clock, so that files they
   *   just wrote are past the racy margin without waiting)
   */
  constructor(path: string, options: { minBytes?: number; clock?: () => number } = {}) {
    this.#path = path;
    this.minBytes = options.minBytes ?? STAT_CACHE_MIN_BYTES;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * The time to record a file version with ({@link record}'s `recordedMs`): take it before the
   * file is read, so that a change while it is read falls inside the racy margin.
   */
  now(): number {
    return this.#clock();
  }

  #open() {
    if (this.#opened) return this.#opened;
    let db: Database;
    try {
      db = openDatabase(this.#path);
      createStatCacheTables(db);
    } catch {
      // A read-only cache directory: files are hashed again, and what is learnt is kept for this process only.
      db = openDatabase(":memory:");
      createStatCacheTables(db);
    }
    const select = db.prepare(
      "SELECT size, mtime_ms, ctime_ms, recorded_ms, checksum FROM file_version WHERE dev=? AND ino=? AND decompress=?",
    );
    const selectBatch = db.prepare(
      `SELECT ino, size, mtime_ms, ctime_ms, recorded_ms, checksum FROM file_version
       WHERE dev=? AND decompress=? AND ino IN (${new Array(PREFETCH_BATCH).fill("?").join(",")})`,
    );
    const upsert = db.prepare(
      "INSERT OR REPLACE INTO file_version (dev, ino, decompress, size, mtime_ms, ctime_ms, recorded_ms, checksum) VALUES (?,?,?,?,?,?,?,?)",
    );
    const selectSet = db.prepare("SELECT recorded_ms, checksums FROM file_version_set WHERE digest=?");
    const upsertSet = db.prepare("INSERT OR REPLACE INTO file_version_set (digest, recorded_ms, checksums) VALUES (?,?,?)");
    const pruneSets = db.prepare(
      `DELETE FROM file_version_set WHERE digest NOT IN (SELECT digest FROM file_version_set ORDER BY recorded_ms DESC LIMIT ${FILE_SETS_KEPT})`,
    );
    this.#opened = { db, select, selectBatch, upsert, selectSet, upsertSet, pruneSets };
    return this.#opened;
  }

  /**
   * Fetches the entries of many files at once, so that their {@link lookup}s need no query
   * each. Worth it from a few dozen files; fewer are left to plain lookups.
   *
   * @returns how many of the files have an entry (valid or stale), or null when nothing was fetched
   */
  prefetch(queries: StampQuery[]): number | null {
    const wanted = queries.filter((query) => query.stamp.size >= this.minBytes && cacheable(query.stamp));
    if (wanted.length < PREFETCH_FROM) return null;
    let found = 0;
    const byDevice = [new Map<number, number[]>(), new Map<number, number[]>()];
    for (const { stamp, decompress } of wanted) {
      const { dev, ino } = stamp;
      const flag = decompress ? 1 : 0;
      let inodes = byDevice[flag]!.get(dev);
      if (!inodes) byDevice[flag]!.set(dev, (inodes = []));
      inodes.push(ino);
      this.#rowsOf(flag, dev).set(ino, null);
    }
    const { selectBatch } = this.#open();
    for (const flag of [0, 1] as const) {
      for (const [dev, inodes] of byDevice[flag]!) {
        const rows = this.#rowsOf(flag, dev);
        for (let start = 0; start < inodes.length; start += PREFETCH_BATCH) {
          const batch = inodes.slice(start, start + PREFETCH_BATCH);
          // Padding repeats an inode of the batch: the statement has a fixed number of parameters.
          while (batch.length < PREFETCH_BATCH) batch.push(batch[0]!);
          for (const [ino, ...row] of selectBatch.values(dev, flag, ...batch) as [number, ...Row][]) {
            if (rows.get(ino) === null) found++; // padding repeats an inode: count it once
            rows.set(ino, row);
          }
        }
      }
    }
    return found;
  }

  #rowsOf(flag: 0 | 1, dev: number): Map<number, Row | null> {
    let rows = this.#prefetched[flag].get(dev);
    if (!rows) this.#prefetched[flag].set(dev, (rows = new Map()));
    return rows;
  }

  /** The cached checksum for this exact file version, or null. */
  lookup(stamp: FileStamp, decompress: boolean): Checksum | null {
    if (!cacheable(stamp)) return null;
    const { dev, ino } = stamp;
    const flag = decompress ? 1 : 0;
    const prefetched = this.#prefetched[flag].get(dev)?.get(ino);
    const row = prefetched !== undefined ? prefetched : (this.#open().select.values(dev, ino, flag) as Row[])[0];
    if (!row) return null;
    const [size, mtimeMs, ctimeMs, recordedMs, checksum] = row;
    if (size !== stamp.size || mtimeMs !== stamp.mtimeMs || ctimeMs !== stamp.ctimeMs) return null;
    if (recordedMs - Math.max(mtimeMs, ctimeMs) < RACY_MARGIN_MS) return null;
    return checksum;
  }

  /**
   * Records the checksum of a file version that was just hashed.
   *
   * @param recordedMs {@link now} before the file was read
   */
  record(stamp: FileStamp, decompress: boolean, checksum: Checksum, recordedMs: number): void {
    if (!cacheable(stamp)) return;
    const { upsert } = this.#beginWrite();
    this.#prefetched[decompress ? 1 : 0].get(stamp.dev)?.delete(stamp.ino);
    upsert.run(stamp.dev, stamp.ino, decompress ? 1 : 0, stamp.size, stamp.mtimeMs, stamp.ctimeMs, recordedMs, checksum);
    if (++this.#pending >= 2000) this.flush();
  }

  #beginWrite() {
    const opened = this.#open();
    // IMMEDIATE: a deferred transaction that later needs the write lock can fail at once.
    if (this.#pending === 0) retryWhileBusy(() => opened.db.exec("BEGIN IMMEDIATE"));
    return opened;
  }

  /**
   * The checksums of a whole set of file versions recorded together by {@link recordSet}, in
   * the same order, or null (not recorded as this exact set, or recorded too soon after a
   * change: the racy rule of {@link lookup}).
   */
  lookupSet(set: FileSet): Checksum[] | null {
    const row = (this.#open().selectSet.values(set.digest) as [number, Uint8Array][])[0];
    if (!row || row[0] - set.latestChangeMs < RACY_MARGIN_MS || row[1].byteLength !== set.count * 32) return null;
    const hex = Buffer.from(row[1].buffer, row[1].byteOffset, row[1].byteLength).toString("hex");
    const checksums = new Array<Checksum>(set.count);
    for (let i = 0; i < checksums.length; i++) checksums[i] = hex.slice(i * 64, i * 64 + 64);
    return checksums;
  }

  /**
   * Remembers a set of file versions and their checksums as a whole, besides each file's own
   * entry, for {@link lookupSet}.
   *
   * @param recordedMs taken before any of the files was read (see {@link record})
   */
  recordSet(set: FileSet, checksums: Checksum[], recordedMs: number): void {
    if (checksums.length !== set.count) throw new Error("a file set needs one checksum per file");
    const { digest } = set;
    const { upsertSet, pruneSets } = this.#beginWrite();
    upsertSet.run(digest, recordedMs, Buffer.from(checksums.join(""), "hex"));
    pruneSets.run();
    this.#pending++;
  }

  /** Commits pending records. */
  flush(): void {
    if (this.#pending > 0) {
      const { db } = this.#open();
      retryWhileBusy(() => db.exec("COMMIT"));
      this.#pending = 0;
    }
  }

  close(): void {
    this.flush();
    this.#opened?.db.close();
    this.#opened = null;
  }
}
