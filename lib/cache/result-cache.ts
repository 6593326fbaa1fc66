/**
 * The result cache: `seamless.db` with exactly the schema of the Python seamless-database
 * (services-spec §3.5), so both read each other's cache. WAL and a busy timeout make parallel
 * `seamless run` processes safe.
 * @module
 */
import { Database } from "bun:sqlite";
import { openDatabaseReadOnly, openSharedDatabase, retryWhileBusy } from "./sqlite.ts";
import { DiskWriteError } from "../errors.ts";
import type { Checksum } from "../checksum/checksum.ts";
import { stringifyPlain } from "../serialize/plain-json.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS "transformation" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "transformation_result" ON "transformation" ("result")`,
  `CREATE TABLE IF NOT EXISTS "rev_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "rev_transformation_result" ON "rev_transformation" ("result")`,
  `CREATE TABLE IF NOT EXISTS "buffer_info" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "buffer_info" TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS "syntactic_to_semantic" ("syntactic" CHAR(64) NOT NULL, "celltype" TEXT NOT NULL, "subcelltype" TEXT NOT NULL, "semantic" CHAR(64) NOT NULL, PRIMARY KEY ("syntactic", "celltype", "subcelltype", "semantic"))`,
  `CREATE TABLE IF NOT EXISTS "expression" ("input_checksum" CHAR(64) NOT NULL, "path" VARCHAR(100) NOT NULL, "celltype" VARCHAR(20) NOT NULL, "target_celltype" VARCHAR(20) NOT NULL, "validator" CHAR(64), "validator_language" VARCHAR(20), "result" CHAR(64) NOT NULL, PRIMARY KEY ("input_checksum", "path", "celltype", "target_celltype"))`,
  `CREATE INDEX IF NOT EXISTS "expression_result" ON "expression" ("result")`,
  `CREATE TABLE IF NOT EXISTS "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "meta_data_result" ON "meta_data" ("result")`,
  `CREATE TABLE IF NOT EXISTS "bucket_probe" ("bucket_kind" VARCHAR(20) NOT NULL, "label" TEXT NOT NULL, "bucket_checksum" CHAR(64) NOT NULL, "captured_at" TEXT NOT NULL, "freshness_tokens" TEXT NOT NULL, PRIMARY KEY ("bucket_kind", "label"))`,
  `CREATE TABLE IF NOT EXISTS "irreproducible_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS "irreproducible_transformation_checksum" ON "irreproducible_transformation" ("checksum")`,
  `CREATE INDEX IF NOT EXISTS "irreproducible_transformation_result" ON "irreproducible_transformation" ("result")`,
];

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

function createSchema(db: Database): void {
  const exists = db.query(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='irreproducible_transformation'`).get();
  if (!exists) retryWhileBusy(() => db.transaction(() => SCHEMA.forEach((statement) => db.exec(statement))).immediate());
}

/** A `seamless.db` file. */
export class ResultCache {
  #db: Database;
  /** Opened read-only (a read-only cache directory): lookups work, {@link recordResult} fails clearly. */
  readonly readOnly: boolean = false;

  /** Opens (and if needed creates) the database; read-only when it cannot be written. */
  constructor(readonly path: string) {
    try {
      this.#db = openSharedDatabase(path);
      createSchema(this.#db);
    } catch {
      // A read-only cache still answers hits; one that does not even hold a database answers none.
      const readOnly = openDatabaseReadOnly(path);
      this.readOnly = true;
      this.#db = readOnly ?? new Database(":memory:");
      if (!readOnly) createSchema(this.#db);
    }
  }

  /** The cached result checksum of a transformation, or null. */
  getResult(tfChecksum: Checksum): Checksum | null {
    const row = this.#db.query(`SELECT "result" FROM "transformation" WHERE "checksum" = ?`).get(tfChecksum) as { result: string } | null;
    return row?.result ?? null;
  }

  /**
   * Records a result with its execution record, like a PUT `metadata` (services-spec §3.4):
   * the transformation row, one reverse row, and a write-once metadata row.
   */
  recordResult(tfChecksum: Checksum, resultChecksum: Checksum, record: ExecutionRecord | null): void {
    if (this.readOnly) throw new DiskWriteError(`Cannot record the result: the result cache "${this.path}" cannot be written (read-only)`, "EROFS");
    retryWhileBusy(() => this.#db.transaction(() => {
      const irreproducible = this.#db.query(`SELECT 1 FROM "irreproducible_transformation" WHERE "checksum" = ?`).get(tfChecksum);
      this.#db.query(`INSERT INTO "transformation" ("checksum", "result") VALUES (?, ?) ON CONFLICT("checksum") DO UPDATE SET "result" = excluded."result"`).run(tfChecksum, resultChecksum);
      const reverse = this.#db.query(`SELECT 1 FROM "rev_transformation" WHERE "checksum" = ? AND "result" = ?`).get(tfChecksum, resultChecksum);
      if (!reverse) this.#db.query(`INSERT INTO "rev_transformation" ("result", "checksum") VALUES (?, ?)`).run(resultChecksum, tfChecksum);
      if (record && !irreproducible) {
        const existing = this.#db.query(`SELECT 1 FROM "meta_data" WHERE "checksum" = ?`).get(tfChecksum);
        if (!existing) this.#db.query(`INSERT INTO "meta_data" ("checksum", "result", "metadata") VALUES (?, ?, ?)`).run(tfChecksum, resultChecksum, stringifyPlain(record));
      }
    }).immediate());
  }

  /** The stored execution record, or null. */
  getExecutionRecord(tfChecksum: Checksum): Record<string, unknown> | null {
    const row = this.#db.query(`SELECT "metadata" FROM "meta_data" WHERE "checksum" = ?`).get(tfChecksum) as { metadata: string } | null;
    return row ? JSON.parse(row.metadata) : null;
  }

  close(): void {
    this.#db.close();
  }
}
