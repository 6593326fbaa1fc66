import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../../lib/disk/sqlite.ts";
import { tempDir } from "../../helpers.ts";

const pragma = (db: ReturnType<typeof openDatabase>, name: string) => Object.values(db.query(`PRAGMA ${name}`).get() as object)[0];

describe("openDatabase()", () => {
  test("openDatabase() shared creates the file and its directory, in WAL with a busy timeout", () => {
    using dir = tempDir();
    const path = join(dir.path, "a", "b", "shared.db");
    const db = openDatabase(path);
    expect(pragma(db, "journal_mode")).toBe("wal");
    expect(pragma(db, "busy_timeout")).toBe(10_000);
    db.exec("CREATE TABLE t (x)");
    db.close();
    // WAL persists in the header (bytes 18 and 19), which is how a second open skips the switch.
    expect([...readFileSync(path).subarray(18, 20)]).toEqual([2, 2]);
    const again = openDatabase(path);
    expect(pragma(again, "journal_mode")).toBe("wal");
    again.close();
  });

  test("openDatabase() exclusive fails at once on a lock (no busy timeout) and leaves the journal mode to its caller", () => {
    using dir = tempDir();
    const db = openDatabase(join(dir.path, "q", "queue.db"), { access: "exclusive", strict: true });
    expect(pragma(db, "busy_timeout")).toBe(0);
    expect(pragma(db, "journal_mode")).toBe("delete");
    db.run("CREATE TABLE t (x)");
    db.query("INSERT INTO t (x) VALUES ($x)").run({ x: 1 });
    expect(db.query("SELECT x FROM t").get()).toEqual({ x: 1 });
    db.close();
  });

  test("openDatabase() read-only reads an existing file and refuses writes and missing files", () => {
    using dir = tempDir();
    const path = join(dir.path, "r.db");
    const writer = openDatabase(path);
    writer.exec("CREATE TABLE t (x); INSERT INTO t VALUES (7)");
    writer.close();
    const reader = openDatabase(path, { access: "read-only" });
    expect(reader.query("SELECT x FROM t").get()).toEqual({ x: 7 });
    expect(() => reader.exec("INSERT INTO t VALUES (8)")).toThrow(/readonly/i);
    reader.close();
    expect(() => openDatabase(join(dir.path, "missing.db"), { access: "read-only" })).toThrow();
    expect(existsSync(join(dir.path, "missing.db"))).toBe(false);
  });

  test("openDatabase() immutable reads a WAL file without making its -shm (which a read-only directory could not hold)", () => {
    using dir = tempDir();
    const path = join(dir.path, "ro", "cache.db");
    const writer = openDatabase(path);
    writer.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('kept')");
    writer.close();
    expect(existsSync(`${path}-shm`)).toBe(false);
    const reader = openDatabase(path, { access: "immutable" });
    expect(reader.query("SELECT x FROM t").get()).toEqual({ x: "kept" });
    expect(existsSync(`${path}-shm`)).toBe(false);
    expect(existsSync(`${path}-wal`)).toBe(false);
    reader.close();
    // The ordinary read-only open of the same WAL file does need it: what immutable avoids.
    const ordinary = openDatabase(path, { access: "read-only" });
    ordinary.query("SELECT x FROM t").get();
    expect(existsSync(`${path}-shm`)).toBe(true);
    ordinary.close();
  });

  test("openDatabase() gives a private in-memory database for \":memory:\"", () => {
    const db = openDatabase(":memory:");
    db.exec("CREATE TABLE t (x)");
    expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 0 });
    db.close();
  });
});
