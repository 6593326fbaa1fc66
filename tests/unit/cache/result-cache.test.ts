/** The result cache's schema: a file made by us has the structure of one made by the Python server (services-spec §3.5). */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteResultCache } from "../../../lib/cache/result-cache.ts";
import { tempDir } from "../../helpers.ts";

const PYTHON_SCHEMA = readFileSync(join(import.meta.dir, "../../fixtures/python-schema.sql"), "utf8");
/** Indexes the Python server creates that an older seamless.db of ours lacks. */
const ADDED_INDEXES = ["bucket_probe_bucket_checksum", "syntactic_to_semantic_semantic", "syntactic_to_semantic_syntactic"];

function structureOf(path: string): { type: string; name: string; tbl_name: string; sql: string | null }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(`SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`).all() as never;
  } finally {
    db.close();
  }
}

describe("ResultCache schema", () => {
  test("new SqliteResultCache() creates exactly the tables and indexes of the Python server", () => {
    using dir = tempDir();
    new SqliteResultCache(join(dir.path, "ours.db")).close();
    const python = new Database(join(dir.path, "python.db"), { create: true });
    python.exec(PYTHON_SCHEMA);
    python.close();
    const ours = structureOf(join(dir.path, "ours.db"));
    expect(ours).toEqual(structureOf(join(dir.path, "python.db")));
    const indexNames = ours.filter((row) => row.type === "index" && !row.name.startsWith("sqlite_autoindex")).map((row) => row.name);
    expect(indexNames).toEqual([
      "bucket_probe_bucket_checksum", "expression_result", "irreproducible_transformation_checksum", "irreproducible_transformation_result",
      "meta_data_result", "rev_transformation_result", "syntactic_to_semantic_semantic", "syntactic_to_semantic_syntactic", "transformation_result",
    ]);
  });

  test("new SqliteResultCache() adds the missing indexes to an existing file and keeps its rows", async () => {
    using dir = tempDir();
    const path = join(dir.path, "seamless.db");
    const old = new Database(path, { create: true });
    old.exec(PYTHON_SCHEMA);
    for (const name of ADDED_INDEXES) old.exec(`DROP INDEX "${name}"`);
    old.query(`INSERT INTO "transformation" VALUES (?, ?)`).run("1".repeat(64), "2".repeat(64));
    old.close();
    const cache = new SqliteResultCache(path);
    expect(await cache.getResult("1".repeat(64))).toBe("2".repeat(64));
    cache.close();
    const names = structureOf(path).map((row) => row.name);
    for (const name of ADDED_INDEXES) expect(names).toContain(name);
    const python = new Database(join(dir.path, "python.db"), { create: true });
    python.exec(PYTHON_SCHEMA);
    python.close();
    expect(structureOf(path)).toEqual(structureOf(join(dir.path, "python.db")));
  });
});
