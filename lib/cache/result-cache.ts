/**
 * The result cache: `seamless.db` with exactly the schema of the Python seamless-database
 * (services-spec §3.5), so both read each other's cache. WAL and a busy timeout make parallel
 * `seamless run` processes safe.
 * @module
 */
import { DiskWriteError } from "../errors.ts";
import type { Checksum } from "../checksum/checksum.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { DatabaseFile } from "./database-file.ts";
import type { IrreproducibleEntry, ResultCache } from "./store.ts";

/**
 * The tables and peewee's `<table>_<column>` indexes of the Python server (services-spec §3.5).
 * Every statement is idempotent: run on a file that lacks some of them (an older file of ours,
 * or one made before an index existed), it adds only what is missing, as the Python server does.
 */
export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS "transformation" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "transformation_result" ON "transformation" ("result")`,
  `CREATE TABLE IF NOT EXISTS "rev_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "rev_transformation_result" ON "rev_transformation" ("result")`,
  `CREATE TABLE IF NOT EXISTS "buffer_info" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "buffer_info" TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS "syntactic_to_semantic" ("syntactic" CHAR(64) NOT NULL, "celltype" TEXT NOT NULL, "subcelltype" TEXT NOT NULL, "semantic" CHAR(64) NOT NULL, PRIMARY KEY ("syntactic", "celltype", "subcelltype", "semantic"))`,
  `CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_syntactic" ON "syntactic_to_semantic" ("syntactic")`,
  `CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_semantic" ON "syntactic_to_semantic" ("semantic")`,
  `CREATE TABLE IF NOT EXISTS "expression" ("input_checksum" CHAR(64) NOT NULL, "path" VARCHAR(100) NOT NULL, "celltype" VARCHAR(20) NOT NULL, "target_celltype" VARCHAR(20) NOT NULL, "validator" CHAR(64), "validator_language" VARCHAR(20), "result" CHAR(64) NOT NULL, PRIMARY KEY ("input_checksum", "path", "celltype", "target_celltype"))`,
  `CREATE INDEX IF NOT EXISTS "expression_result" ON "expression" ("result")`,
  `CREATE TABLE IF NOT EXISTS "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "meta_data_result" ON "meta_data" ("result")`,
  `CREATE TABLE IF NOT EXISTS "bucket_probe" ("bucket_kind" VARCHAR(20) NOT NULL, "label" TEXT NOT NULL, "bucket_checksum" CHAR(64) NOT NULL, "captured_at" TEXT NOT NULL, "freshness_tokens" TEXT NOT NULL, PRIMARY KEY ("bucket_kind", "label"))`,
  `CREATE INDEX IF NOT EXISTS "bucket_probe_bucket_checksum" ON "bucket_probe" ("bucket_checksum")`,
  `CREATE TABLE IF NOT EXISTS "irreproducible_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "irreproducible_transformation_checksum" ON "irreproducible_transformation" ("checksum")`,
  `CREATE INDEX IF NOT EXISTS "irreproducible_transformation_result" ON "irreproducible_transformation" ("result")`,
];

/**
 * The table of the newer upstream `HashType` model (services-spec §9): a checksum primary key
 * and an integer word, as peewee creates it. Only `seamless database` creates it (the embedded
 * cache keeps DB @300b13c's schema exactly). UNCERTAIN: the model is not in the public index;
 * its contract names the table and both columns.
 */
export const HASH_TYPE_SCHEMA = `CREATE TABLE IF NOT EXISTS "hash_type" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "hash_type" INTEGER NOT NULL)`;

/** Names of every table and index of {@link SCHEMA}. */
export const SCHEMA_NAMES = SCHEMA.map((statement) => /"([a-z_]+)"/.exec(statement)![1]!);

/** The minimal execution record of services-spec §3.4. */
export interface ExecutionRecord {
  schema_version: number;
  tf_checksum: Checksum;
  result_checksum: Checksum;
  seamless_version: string;
  execution_mode: string;
  remote_target: string | null;
  wall_time_seconds: number;
  cpu_time_user_seconds: number;
  cpu_time_system_seconds: number;
  memory_peak_bytes: number | null;
  gpu_memory_peak_bytes: number | null;
  [key: string]: unknown;
}

/**
 * The embedded result cache: a `seamless.db` file opened by concurrent `seamless` processes.
 * The rules are those of the database server ({@link DatabaseFile}), so both write alike.
 */
export class SqliteResultCache implements ResultCache {
  readonly #file: DatabaseFile;
  /** Opened read-only (a read-only cache directory): lookups work, writes fail clearly. */
  readonly readOnly: boolean = false;

  /** Opens (and if needed creates) the database; read-only when it cannot be written. */
  constructor(readonly path: string) {
    try {
      this.#file = DatabaseFile.openShared(path);
    } catch {
      // A read-only cache still answers hits; one that does not even hold a database answers none.
      this.#file = DatabaseFile.openReadOnlyOrEmpty(path);
      this.readOnly = true;
    }
  }

  get location(): string {
    return this.path;
  }

  async getResult(tf: Checksum): Promise<Checksum | null> {
    return this.#file.getTransformation(tf);
  }

  async setResult(tf: Checksum, result: Checksum): Promise<void> {
    this.#refuseWriteIfReadOnly();
    this.#file.putTransformation(tf, result);
  }

  async getTransformationsOf(result: Checksum): Promise<Checksum[]> {
    return this.#file.getRevTransformations(result);
  }

  async getExecutionRecord(tf: Checksum): Promise<Record<string, unknown> | null> {
    const text = this.#file.getMetadataText(tf);
    return text === null ? null : JSON.parse(text);
  }

  async setExecutionRecord(tf: Checksum, result: Checksum, record: Record<string, unknown>): Promise<boolean> {
    this.#refuseWriteIfReadOnly();
    return this.#file.putMetadata(tf, result, record as PlainValue) === null;
  }

  async getIrreproducible(tf: Checksum, result?: Checksum): Promise<IrreproducibleEntry[]> {
    return this.#file.getIrreproducible(tf, result).map((row) => ({ checksum: row.checksum, result: row.result, metadata: JSON.parse(row.metadataText) }));
  }

  async markIrreproducible(tf: Checksum, result: Checksum): Promise<boolean> {
    this.#refuseWriteIfReadOnly();
    return this.#file.putIrreproducible(tf, result) === null;
  }

  #refuseWriteIfReadOnly(): void {
    if (this.readOnly) throw new DiskWriteError(`Cannot record the result: the result cache "${this.path}" cannot be written (read-only)`, "EROFS");
  }

  close(): void {
    this.#file.close();
  }
}
