/**
 * A `seamless.db` file and the rules of services-spec §3.3–§3.5 on it: upserts, the
 * write-once execution record, the irreproducible state machine, reverse lookups. One
 * implementation serves both the embedded result cache and `seamless database`, on exactly the
 * schema of the Python seamless-database, so either opens the other's file.
 *
 * Texts are stored as the Python server stores them: JSON columns through SQLite's `json()` of
 * Python's `json.dumps` (peewee `JSONField`), `buffer_info` as `json.dumps(sort_keys, indent=2)`,
 * expression paths as `json.dumps(path)`.
 * @module
 */
import { type Database, SQLiteError } from "bun:sqlite";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { SeamlessError } from "../errors.ts";
import { parsePlain, type PlainValue } from "../serialize/plain-json.ts";
import { dumpsPythonJson, pythonJsonEquals } from "../serialize/python-json.ts";
import { HASH_TYPE_SCHEMA, SCHEMA, SCHEMA_NAMES } from "./result-cache.ts";
import { openDatabase, retryWhileBusy } from "../disk/sqlite.ts";
import type { DatabaseConflict } from "../wire/database.ts";

/** One row of `irreproducible_transformation`, its record as stored JSON text (`""` when none). */
export interface IrreproducibleRow {
  checksum: Checksum;
  result: Checksum;
  metadataText: string;
}

/** One `expression` row (services-spec §3.3). */
export interface ExpressionRow {
  checksum: Checksum;
  pathText: string;
  celltype: string;
  targetCelltype: string;
  result: Checksum;
}

/** One `bucket_probe` row; `freshnessTokensText` is stored JSON. */
export interface BucketProbeRow {
  bucketKind: string;
  label: string;
  bucketChecksum: Checksum;
  capturedAt: string;
  freshnessTokensText: string;
}

const SQLITE_MAGIC = "SQLite format 3\0";
const TABLES = ["transformation", "rev_transformation", "buffer_info", "syntactic_to_semantic", "expression", "meta_data", "bucket_probe", "irreproducible_transformation"];

/**
 * Refuses a file that exists but is not an SQLite database, before anything opens it (so it is
 * left untouched). An empty file is accepted: SQLite treats it as a new database.
 *
 * @throws {SeamlessError} when the header is not SQLite's
 */
export function assertSqliteFile(path: string): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(16);
    const n = readSync(fd, header, 0, 16, 0);
    if (n < 16 || header.toString("latin1") !== SQLITE_MAGIC) {
      throw new SeamlessError(`Cannot open database "${path}": not an SQLite file (left untouched)`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Files up to this size get a full page check when a server opens them. */
export const QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024;

/** Python's `json.dumps` → SQLite `json()`: what peewee's `JSONField` stores. */
const JSON_COLUMN = "json(?)";

/** A `seamless.db`. Methods are synchronous; callers that must not block wrap them. */
export class DatabaseFile {
  readonly #db: Database;

  private constructor(db: Database, readonly path: string) {
    this.#db = db;
  }

  /**
   * Opens the embedded cache file shared by concurrent `seamless` processes (WAL, busy
   * timeout), creating it and its tables if needed.
   */
  static openShared(path: string): DatabaseFile {
    const db = openDatabase(path);
    // As the database server (openForServer): commits in WAL mode without an fsync each, which
    // cost ~3.5 ms per recorded result here (a run's miss, each jobserver job; BENCHMARKS.md
    // "jobserver throughput"). The file stays consistent after a crash; a power cut may lose the
    // last results, which are then computed again (result buffers are not fsynced either).
    db.exec("PRAGMA synchronous=NORMAL");
    // Tables and indexes missing from an older file are added (fidelity: the peewee indexes).
    const present = db.query(`SELECT count(*) AS n FROM sqlite_master WHERE name IN (${SCHEMA_NAMES.map(() => "?").join(", ")})`).get(...SCHEMA_NAMES) as { n: number };
    if (present.n < SCHEMA_NAMES.length) {
      const tablesExist = db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='irreproducible_transformation'`).get();
      try {
        retryWhileBusy(() => db.transaction(() => SCHEMA.forEach((statement) => db.exec(statement))).immediate());
      } catch (error) {
        // A read-only file with every table but not every index still answers lookups.
        if (!tablesExist) throw error;
      }
    }
    return new DatabaseFile(db, path);
  }

  /**
   * Opens an embedded cache that cannot be written (a read-only disk) for lookups only; an empty
   * in-memory database when there is no such file, so that every lookup misses.
   */
  static openReadOnlyOrEmpty(path: string): DatabaseFile {
    if (existsSync(path)) return new DatabaseFile(openDatabase(path, { access: "immutable" }), path);
    const empty = openDatabase(":memory:");
    SCHEMA.forEach((statement) => empty.exec(statement));
    return new DatabaseFile(empty, path);
  }

  /**
   * Opens a file for `seamless database`: writable (created with its tables and indexes if
   * needed, WAL, commits without fsync like the Python server's `synchronous=0`, here
   * `NORMAL`, which keeps the file consistent after a crash), or read-only (must exist and
   * hold the tables). A file that is not SQLite, or is corrupt, is refused untouched.
   *
   * @throws {SeamlessError} for a missing (read-only), foreign or corrupt file
   */
  static openForServer(path: string, writable: boolean): DatabaseFile {
    if (!writable && !existsSync(path)) throw new SeamlessError(`Database file "${path}" must exist when --writable is not set`);
    assertSqliteFile(path);
    const fresh = !existsSync(path) || statSync(path).size === 0;
    if (!fresh) DatabaseFile.#checkReadable(path);
    const db = openDatabase(path, { access: writable ? "shared" : "read-only" });
    try {
      if (writable) {
        db.exec("PRAGMA synchronous=NORMAL");
        db.exec("PRAGMA foreign_keys=1");
        DatabaseFile.#upgradeLegacyMetaData(db, path);
        retryWhileBusy(() => db.transaction(() => [...SCHEMA, HASH_TYPE_SCHEMA].forEach((statement) => db.exec(statement))).immediate());
      } else {
        const present = new Set((db.query(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]).map((row) => row.name));
        const missing = TABLES.filter((table) => !present.has(table));
        if (missing.length) throw new SeamlessError(`Cannot serve "${path}": not a seamless database (missing tables: ${missing.join(", ")})`);
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new DatabaseFile(db, path);
  }

  /**
   * Reads the schema and, for files up to {@link QUICK_CHECK_MAX_BYTES}, checks every page,
   * read-only, so a corrupt file is never written. Larger files get the schema read only: a
   * full check would hold the start-up for seconds per gigabyte.
   */
  static #checkReadable(path: string): void {
    let db: Database | null = null;
    try {
      db = openDatabase(path, { access: "read-only" });
      db.query(`SELECT name FROM sqlite_master`).all();
      if (statSync(path).size <= QUICK_CHECK_MAX_BYTES) {
        const check = db.query(`PRAGMA quick_check(1)`).get() as { quick_check: string } | null;
        if (check && check.quick_check !== "ok") throw new Error(check.quick_check);
      }
    } catch (error) {
      if (error instanceof SeamlessError) throw error;
      throw new SeamlessError(`Cannot open database "${path}": corrupt or unreadable (${(error as Error).message}); left untouched`);
    } finally {
      db?.close();
    }
  }

  /** services-spec §3.5 "Legacy migration": an empty two-column `meta_data` is dropped. */
  static #upgradeLegacyMetaData(db: Database, path: string): void {
    const columns = (db.query(`PRAGMA table_info("meta_data")`).all() as { name: string }[]).map((row) => row.name).sort();
    if (columns.length === 0 || columns.join() === "checksum,metadata,result") return;
    if (columns.join() === "checksum,metadata") {
      const { n } = db.query(`SELECT COUNT(*) AS n FROM "meta_data"`).get() as { n: number };
      if (n === 0) {
        db.exec(`DROP TABLE "meta_data"`);
        return;
      }
      throw new SeamlessError(`Cannot serve "${path}": its legacy 'meta_data' table is non-empty and cannot be upgraded automatically`);
    }
    throw new SeamlessError(`Cannot serve "${path}": unsupported schema for 'meta_data' (columns ${columns.join(", ")})`);
  }

  /** One transaction; inside a group commit the surrounding savepoint already covers `work`. */
  #write<T>(work: () => T): T {
    if (this.#db.inTransaction) return work();
    return retryWhileBusy(() => this.#db.transaction(work).immediate());
  }

  #batch: { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] | null = null;

  /**
   * Runs `work` (which may call the write methods) in the next group commit: writes that
   * arrive in the same event-loop turn share one transaction, so one WAL commit serves them
   * all, which is what bounds PUT throughput. `work` must throw only before it writes (as
   * request validation does); should SQLite itself fail, the batch is undone and each write is
   * retried in a transaction of its own, so one failure never takes the others down. Each
   * promise settles after its commit.
   */
  writeSoon<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.#batch) {
        this.#batch = [];
        setImmediate(() => this.#flush());
      }
      this.#batch.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #flush(): void {
    const batch = this.#batch ?? [];
    this.#batch = null;
    type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
    const settle = (outcomes: Outcome[]) => batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
    const attempt = (work: () => unknown, inBatch: boolean): Outcome => {
      try {
        return { ok: true, value: work() };
      } catch (error) {
        if (inBatch && error instanceof SQLiteError) throw error;
        return { ok: false, error };
      }
    };
    let outcomes: Outcome[] = [];
    try {
      this.#write(() => {
        outcomes = batch.map((item) => attempt(item.work, true));
      });
    } catch {
      outcomes = batch.map((item) => attempt(() => this.#write(item.work), false));
    }
    settle(outcomes);
  }

  // --- transformation ---------------------------------------------------------------------

  /** The result of a transformation, or null. */
  getTransformation(tf: Checksum): Checksum | null {
    const row = this.#db.query(`SELECT "result" FROM "transformation" WHERE "checksum" = ?`).get(tf) as { result: string } | null;
    return row ? row.result.toLowerCase() : null;
  }

  /**
   * PUT `transformation`: overwrites the result and appends a reverse row (duplicates possible,
   * as in Python). QUIRK fixed (services-spec §3.5): an overwritten result's reverse rows go.
   */
  putTransformation(tf: Checksum, result: Checksum): void {
    this.#write(() => {
      const old = this.getTransformation(tf);
      if (old !== null && old !== result) this.#db.query(`DELETE FROM "rev_transformation" WHERE "checksum" = ? AND "result" = ?`).run(tf, old);
      this.#db.query(`INSERT INTO "transformation" ("checksum", "result") VALUES (?, ?) ON CONFLICT("checksum") DO UPDATE SET "result" = excluded."result"`).run(tf, result);
      this.#db.query(`INSERT INTO "rev_transformation" ("result", "checksum") VALUES (?, ?)`).run(result, tf);
    });
  }

  /** Transformations recorded as giving `result`, in insertion order, duplicates kept. */
  getRevTransformations(result: Checksum): Checksum[] {
    return (this.#db.query(`SELECT "checksum" FROM "rev_transformation" WHERE "result" = ? ORDER BY "id"`).all(result) as { checksum: string }[]).map((row) => row.checksum);
  }

  #ensureReverse(tf: Checksum, result: Checksum): void {
    const exists = this.#db.query(`SELECT 1 FROM "rev_transformation" WHERE "checksum" = ? AND "result" = ?`).get(tf, result);
    if (!exists) this.#db.query(`INSERT INTO "rev_transformation" ("result", "checksum") VALUES (?, ?)`).run(result, tf);
  }

  #metadataRow(tf: Checksum): { result: string; metadata: string } | null {
    return this.#db.query(`SELECT "result", "metadata" FROM "meta_data" WHERE "checksum" = ?`).get(tf) as { result: string; metadata: string } | null;
  }

  // --- execution records and irreproducible ------------------------------------------------

  /** The stored execution record as JSON text, or null. */
  getMetadataText(tf: Checksum): string | null {
    return this.#metadataRow(tf)?.metadata ?? null;
  }

  /**
   * PUT `metadata` (services-spec §3.4): write-once, idempotent for an equal record, in one
   * transaction. The caller has validated the record's identity fields.
   *
   * @returns null when stored (or already equal), else the conflict
   */
  putMetadata(tf: Checksum, result: Checksum, record: PlainValue): DatabaseConflict | null {
    return this.#write(() => {
      if (this.#db.query(`SELECT 1 FROM "irreproducible_transformation" WHERE "checksum" = ?`).get(tf)) return "irreproducible-exists";
      const current = this.getTransformation(tf);
      if (current !== null && current !== result) return "transformation-result-differs";
      const existing = this.#metadataRow(tf);
      if (existing) {
        if (existing.result.toLowerCase() !== result) return "record-result-differs";
        if (!pythonJsonEquals(parsePlain(existing.metadata), record)) return "record-differs";
      }
      if (current === null) this.#db.query(`INSERT INTO "transformation" ("checksum", "result") VALUES (?, ?)`).run(tf, result);
      this.#ensureReverse(tf, result);
      if (!existing) this.#db.query(`INSERT INTO "meta_data" ("checksum", "result", "metadata") VALUES (?, ?, ${JSON_COLUMN})`).run(tf, result, dumpsPythonJson(record));
      return null;
    });
  }

  /**
   * PUT `irreproducible` (services-spec §3.4): moves the normal entry (and its record) into
   * `irreproducible_transformation`, in one transaction.
   *
   * @returns null when moved, else the conflict
   */
  putIrreproducible(tf: Checksum, result: Checksum): DatabaseConflict | null {
    return this.#write(() => {
      const current = this.getTransformation(tf);
      if (current !== null && current !== result) return "irreproducible-result-missing";
      const existing = this.#metadataRow(tf);
      if (existing && existing.result.toLowerCase() !== result) return "record-result-differs-from-irreproducible";
      const moved = existing ? dumpsPythonJson(parsePlain(existing.metadata)) : '""';
      this.#db.query(`INSERT INTO "irreproducible_transformation" ("result", "checksum", "metadata") VALUES (?, ?, ${JSON_COLUMN})`).run(result, tf, moved);
      if (current !== null) {
        this.#db.query(`DELETE FROM "transformation" WHERE "checksum" = ?`).run(tf);
        this.#db.query(`DELETE FROM "rev_transformation" WHERE "checksum" = ? AND "result" = ?`).run(tf, result);
      }
      if (existing) this.#db.query(`DELETE FROM "meta_data" WHERE "checksum" = ?`).run(tf);
      return null;
    });
  }

  /** Irreproducible rows of a transformation, optionally only those with `result`. */
  getIrreproducible(tf: Checksum, result?: Checksum): IrreproducibleRow[] {
    const rows = this.#db.query(`SELECT "checksum", "result", "metadata" FROM "irreproducible_transformation" WHERE "checksum" = ? ORDER BY "id"`).all(tf) as { checksum: string; result: string; metadata: string }[];
    return rows.filter((row) => result === undefined || row.result === result).map((row) => ({ checksum: row.checksum, result: row.result, metadataText: row.metadata }));
  }

  // --- buffer info, semantic/syntactic, expressions, bucket probes -------------------------

  /** Stored buffer-info JSON text, or null. */
  getBufferInfoText(checksum: Checksum): string | null {
    const row = this.#db.query(`SELECT "buffer_info" FROM "buffer_info" WHERE "checksum" = ?`).get(checksum) as { buffer_info: string } | null;
    return row?.buffer_info ?? null;
  }

  /** Merges `update` into the stored buffer info (new keys win) and stores it sorted, indent 2. */
  mergeBufferInfo(checksum: Checksum, update: Record<string, PlainValue>): void {
    this.#write(() => {
      const existingText = this.getBufferInfoText(checksum);
      const merged = existingText === null ? update : Object.assign(parsePlain(existingText) as Record<string, PlainValue>, update);
      const text = dumpsPythonJson(merged, { sortKeys: true, indent: 2 });
      this.#db.query(`INSERT INTO "buffer_info" ("checksum", "buffer_info") VALUES (?, ?) ON CONFLICT("checksum") DO UPDATE SET "buffer_info" = excluded."buffer_info"`).run(checksum, text);
    });
  }

  /** Syntactic checksums of a semantic checksum in a cell type. */
  getSemanticToSyntactic(semantic: Checksum, celltype: string, subcelltype: string): Checksum[] {
    const rows = this.#db.query(`SELECT "syntactic" FROM "syntactic_to_semantic" WHERE "semantic" = ? AND "celltype" = ? AND "subcelltype" = ?`).all(semantic, celltype, subcelltype) as { syntactic: string }[];
    return rows.map((row) => row.syntactic.toLowerCase());
  }

  /** Semantic checksums of a syntactic checksum in a cell type. */
  getSyntacticToSemantic(syntactic: Checksum, celltype: string, subcelltype: string): Checksum[] {
    const rows = this.#db.query(`SELECT "semantic" FROM "syntactic_to_semantic" WHERE "syntactic" = ? AND "celltype" = ? AND "subcelltype" = ?`).all(syntactic, celltype, subcelltype) as { semantic: string }[];
    return rows.map((row) => row.semantic.toLowerCase());
  }

  /** Records semantic → syntactic pairs; existing pairs are kept. */
  putSemanticToSyntactic(semantic: Checksum, celltype: string, subcelltype: string, syntactic: Checksum[]): void {
    this.#write(() => {
      for (const item of syntactic) {
        this.#db.query(`INSERT OR IGNORE INTO "syntactic_to_semantic" ("syntactic", "celltype", "subcelltype", "semantic") VALUES (?, ?, ?, ?)`).run(item, celltype, subcelltype, semantic);
      }
    });
  }

  /** The result of an expression, or null. */
  getExpression(checksum: Checksum, pathText: string, celltype: string, targetCelltype: string): Checksum | null {
    const row = this.#db.query(`SELECT "result" FROM "expression" WHERE "input_checksum" = ? AND "path" = ? AND "celltype" = ? AND "target_celltype" = ?`).get(checksum, pathText, celltype, targetCelltype) as { result: string } | null;
    return row ? row.result.toLowerCase() : null;
  }

  /**
   * Records an expression result, write-once: the same result again is accepted, a different
   * one refused (services-spec §9; DB @300b13c overwrote it).
   *
   * @returns null when stored (or already equal), else the conflict
   */
  putExpression(row: ExpressionRow): DatabaseConflict | null {
    return this.#write(() => {
      const current = this.getExpression(row.checksum, row.pathText, row.celltype, row.targetCelltype);
      if (current === row.result) return null;
      if (current !== null) return "expression-result-differs";
      this.#db.query(`INSERT INTO "expression" ("input_checksum", "path", "celltype", "target_celltype", "result") VALUES (?, ?, ?, ?, ?)`).run(row.checksum, row.pathText, row.celltype, row.targetCelltype, row.result);
      return null;
    });
  }

  // --- HashType words (services-spec §9) ----------------------------------------------------

  /** The stored HashType word of a checksum, or null (also for a file made before the table existed). */
  getHashType(checksum: Checksum): number | null {
    if (!this.#hasHashTypeTable()) return null;
    const row = this.#db.query(`SELECT "hash_type" FROM "hash_type" WHERE "checksum" = ?`).get(checksum) as { hash_type: number } | null;
    return row ? Number(row.hash_type) : null;
  }

  /**
   * Stores a HashType word under the tighten-only rule, in one transaction: `settle(stored,
   * incoming)` decides whether the stored word stays, is replaced, or the write is refused.
   *
   * @returns the word stored before (null if none) and the outcome
   */
  putHashType(checksum: Checksum, word: number, settle: (stored: number, incoming: number) => "keep" | "replace" | "conflict"): { stored: number | null; outcome: "keep" | "replace" | "conflict" } {
    return this.#write(() => {
      const stored = this.getHashType(checksum);
      const outcome = stored === null ? "replace" : settle(stored, word);
      if (outcome === "replace") {
        this.#db.query(`INSERT INTO "hash_type" ("checksum", "hash_type") VALUES (?, ?) ON CONFLICT("checksum") DO UPDATE SET "hash_type" = excluded."hash_type"`).run(checksum, word);
      }
      return { stored, outcome };
    });
  }

  #hashTypeTable: boolean | undefined;

  #hasHashTypeTable(): boolean {
    // A read-only server may serve a file written before the table existed: every lookup misses.
    this.#hashTypeTable ||= this.#db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='hash_type'`).get() !== null;
    return this.#hashTypeTable;
  }

  /** Expressions whose result is `result`. */
  getRevExpressions(result: Checksum): ExpressionRow[] {
    const rows = this.#db.query(`SELECT "input_checksum", "path", "celltype", "target_celltype" FROM "expression" WHERE "result" = ?`).all(result) as { input_checksum: string; path: string; celltype: string; target_celltype: string }[];
    return rows.map((row) => ({ checksum: row.input_checksum, pathText: row.path, celltype: row.celltype, targetCelltype: row.target_celltype, result }));
  }

  /** A bucket probe, or null. */
  getBucketProbe(bucketKind: string, label: string): BucketProbeRow | null {
    const row = this.#db.query(`SELECT "bucket_kind", "label", "bucket_checksum", "captured_at", "freshness_tokens" FROM "bucket_probe" WHERE "bucket_kind" = ? AND "label" = ?`).get(bucketKind, label) as Record<string, string> | null;
    if (!row) return null;
    return { bucketKind: row.bucket_kind!, label: row.label!, bucketChecksum: row.bucket_checksum!, capturedAt: row.captured_at!, freshnessTokensText: row.freshness_tokens! };
  }

  /** Upserts a bucket probe; `freshnessTokens` is stored as a JSON column. */
  putBucketProbe(probe: Omit<BucketProbeRow, "freshnessTokensText">, freshnessTokens: PlainValue): void {
    this.#write(() => {
      this.#db.query(`INSERT INTO "bucket_probe" ("bucket_kind", "label", "bucket_checksum", "captured_at", "freshness_tokens") VALUES (?, ?, ?, ?, ${JSON_COLUMN}) ON CONFLICT("bucket_kind", "label") DO UPDATE SET "bucket_checksum" = excluded."bucket_checksum", "captured_at" = excluded."captured_at", "freshness_tokens" = excluded."freshness_tokens"`).run(probe.bucketKind, probe.label, probe.bucketChecksum, probe.capturedAt, dumpsPythonJson(freshnessTokens));
    });
  }

  close(): void {
    this.#db.close();
  }
}
