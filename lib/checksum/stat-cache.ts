/**
 * A persistent cache of file checksums keyed by (device, inode, decompress) and validated by
 * size, mtime_ns and ctime_ns, so unchanged files are not hashed again. Lives in the cache
 * directory as `stat-cache.sqlite`; it is ours alone and not part of the Python layout.
 * @module
 */
import type { BigIntStats } from "node:fs";
import type { Database } from "bun:sqlite";
import { openSharedDatabase, retryWhileBusy } from "../cache/sqlite.ts";
import type { Checksum } from "./checksum.ts";
import { computeChecksum } from "./sha256.ts";

/** The stat fields that identify one version of a file. */
export interface FileStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * Timestamps are coarse (kernel ticks). An entry recorded less than this long after the
 * file's last change may have missed a later change within the same tick, so it is not
 * trusted: the "racy git" rule.
 */
const RACY_MARGIN_NS = 50_000_000n;

/**
 * The default size below which files are simply hashed: for a command with a few small inputs,
 * hashing them costs less than opening the cache database. Commands that hash many files
 * (upload, checksum) pass `minBytes: 0`, since a lookup is still cheaper than a read and hash.
 */
export const STAT_CACHE_MIN_BYTES = 64 * 1024;

/** The stamp of a file's `stat({ bigint: true })`. */
export function stampOf(stats: BigIntStats): FileStamp {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
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

/** Bytes per file in a file-set digest: dev, ino, size, mtime_ns, ctime_ns, decompress. */
const STAMP_BYTES = 41;

type Row = [size: bigint, mtimeNs: bigint, ctimeNs: bigint, recordedNs: bigint, checksum: string];

/** SQLite integers are signed 64-bit; device and inode numbers are unsigned and may use all 64 bits. */
function asInt64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

/** A list of file versions as {@link StatCache.lookupSet} and {@link StatCache.recordSet} know it. */
export interface FileSet {
  /** SHA-256 of the versions' stamps, in order. */
  digest: string;
  count: number;
  /** The latest mtime or ctime among them. */
  latestChangeNs: bigint;
}

/** The {@link FileSet} of these file versions; null for too few or too many to remember whole. */
export function fileSetOf(queries: StampQuery[]): FileSet | null {
  if (queries.length < FILE_SET_MIN_FILES || queries.length > FILE_SET_MAX_FILES) return null;
  const bytes = new Uint8Array(queries.length * STAMP_BYTES);
  const view = new DataView(bytes.buffer);
  let latestChangeNs = 0n;
  for (let i = 0, at = 0; i < queries.length; i++, at += STAMP_BYTES) {
    const { stamp, decompress } = queries[i]!;
    view.setBigUint64(at, stamp.dev);
    view.setBigUint64(at + 8, stamp.ino);
    view.setBigUint64(at + 16, stamp.size);
    view.setBigUint64(at + 24, stamp.mtimeNs);
    view.setBigUint64(at + 32, stamp.ctimeNs);
    bytes[at + 40] = decompress ? 1 : 0;
    if (stamp.mtimeNs > latestChangeNs) latestChangeNs = stamp.mtimeNs;
    if (stamp.ctimeNs > latestChangeNs) latestChangeNs = stamp.ctimeNs;
  }
  return { digest: computeChecksum(bytes), count: queries.length, latestChangeNs };
}

/** A stat-keyed checksum cache backed by SQLite, opened on first use. */
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
  /**
   * Rows fetched by {@link prefetch}: decompress flag → device → inode → row (null where
   * there is none). Keyed by bigint: building string keys from bigints cost more than the
   * queries saved.
   */
  #prefetched = [new Map<bigint, Map<bigint, Row | null>>(), new Map<bigint, Map<bigint, Row | null>>()] as const;

  /** Files smaller than this are not looked up or recorded. */
  readonly minBytes: number;

  constructor(path: string, options: { minBytes?: number } = {}) {
    this.#path = path;
    this.minBytes = options.minBytes ?? STAT_CACHE_MIN_BYTES;
  }

  #open() {
    if (this.#opened) return this.#opened;
    const db = openSharedDatabase(this.#path);
    db.exec("PRAGMA synchronous=OFF");
    // Integers (not text) and no rowid: ~40% less per lookup and insert than the first layout.
    retryWhileBusy(() => db.exec(
      `CREATE TABLE IF NOT EXISTS file_stamp (dev INTEGER NOT NULL, ino INTEGER NOT NULL, decompress INTEGER NOT NULL,
       size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, recorded_ns INTEGER NOT NULL,
       checksum TEXT NOT NULL, PRIMARY KEY (dev, ino, decompress)) WITHOUT ROWID;
       CREATE TABLE IF NOT EXISTS file_set (digest TEXT PRIMARY KEY, recorded_ns INTEGER NOT NULL,
       checksums BLOB NOT NULL) WITHOUT ROWID`,
    ));
    const select = db.prepare(
      "SELECT size, mtime_ns, ctime_ns, recorded_ns, checksum FROM file_stamp WHERE dev=? AND ino=? AND decompress=?",
    ).safeIntegers(true);
    const selectBatch = db.prepare(
      `SELECT ino, size, mtime_ns, ctime_ns, recorded_ns, checksum FROM file_stamp
       WHERE dev=? AND decompress=? AND ino IN (${new Array(PREFETCH_BATCH).fill("?").join(",")})`,
    ).safeIntegers(true);
    const upsert = db.prepare(
      "INSERT OR REPLACE INTO file_stamp (dev, ino, decompress, size, mtime_ns, ctime_ns, recorded_ns, checksum) VALUES (?,?,?,?,?,?,?,?)",
    );
    const selectSet = db.prepare("SELECT recorded_ns, checksums FROM file_set WHERE digest=?").safeIntegers(true);
    const upsertSet = db.prepare("INSERT OR REPLACE INTO file_set (digest, recorded_ns, checksums) VALUES (?,?,?)");
    const pruneSets = db.prepare(
      `DELETE FROM file_set WHERE digest NOT IN (SELECT digest FROM file_set ORDER BY recorded_ns DESC LIMIT ${FILE_SETS_KEPT})`,
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
    const wanted = queries.filter((query) => query.stamp.size >= BigInt(this.minBytes));
    if (wanted.length < PREFETCH_FROM) return null;
    let found = 0;
    const byDevice = [new Map<bigint, bigint[]>(), new Map<bigint, bigint[]>()];
    for (const { stamp, decompress } of wanted) {
      const dev = asInt64(stamp.dev);
      const ino = asInt64(stamp.ino);
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
          for (const [ino, ...row] of selectBatch.values(dev, flag, ...batch) as [bigint, ...Row][]) {
            if (rows.get(ino) === null) found++; // padding repeats an inode: count it once
            rows.set(ino, row);
          }
        }
      }
    }
    return found;
  }

  #rowsOf(flag: 0 | 1, dev: bigint): Map<bigint, Row | null> {
    let rows = this.#prefetched[flag].get(dev);
    if (!rows) this.#prefetched[flag].set(dev, (rows = new Map()));
    return rows;
  }

  /** The cached checksum for this exact file version, or null. */
  lookup(stamp: FileStamp, decompress: boolean): Checksum | null {
    const dev = asInt64(stamp.dev);
    const ino = asInt64(stamp.ino);
    const flag = decompress ? 1 : 0;
    const prefetched = this.#prefetched[flag].get(dev)?.get(ino);
    const row = prefetched !== undefined ? prefetched : (this.#open().select.values(dev, ino, flag) as Row[])[0];
    if (!row) return null;
    const [size, mtimeNs, ctimeNs, recordedNs, checksum] = row;
    if (size !== stamp.size || mtimeNs !== stamp.mtimeNs || ctimeNs !== stamp.ctimeNs) return null;
    const changed = stamp.mtimeNs > stamp.ctimeNs ? stamp.mtimeNs : stamp.ctimeNs;
    if (recordedNs - changed < RACY_MARGIN_NS) return null;
    return checksum;
  }

  /** Records the checksum of a file version that was just hashed. */
  record(stamp: FileStamp, decompress: boolean, checksum: Checksum, recordedNs: bigint): void {
    const { upsert } = this.#beginWrite();
    this.#prefetched[decompress ? 1 : 0].get(asInt64(stamp.dev))?.delete(asInt64(stamp.ino));
    upsert.run(asInt64(stamp.dev), asInt64(stamp.ino), decompress ? 1 : 0, stamp.size, stamp.mtimeNs, stamp.ctimeNs, recordedNs, checksum);
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
    const row = (this.#open().selectSet.values(set.digest) as [bigint, Uint8Array][])[0];
    if (!row || row[0] - set.latestChangeNs < RACY_MARGIN_NS || row[1].byteLength !== set.count * 32) return null;
    const hex = Buffer.from(row[1].buffer, row[1].byteOffset, row[1].byteLength).toString("hex");
    const checksums = new Array<Checksum>(set.count);
    for (let i = 0; i < checksums.length; i++) checksums[i] = hex.slice(i * 64, i * 64 + 64);
    return checksums;
  }

  /**
   * Remembers a set of file versions and their checksums as a whole, besides each file's own
   * entry, for {@link lookupSet}.
   *
   * @param recordedNs taken before any of the files was read (see {@link record})
   */
  recordSet(set: FileSet, checksums: Checksum[], recordedNs: bigint): void {
    if (checksums.length !== set.count) throw new Error("a file set needs one checksum per file");
    const { digest } = set;
    const { upsertSet, pruneSets } = this.#beginWrite();
    upsertSet.run(digest, recordedNs, Buffer.from(checksums.join(""), "hex"));
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
