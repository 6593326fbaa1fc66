/** The database client against the handler itself (no socket), fan-out, and the environment's extern clients. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseFile } from "../../../lib/cache/database-file.ts";
import { FanOutResultCache } from "../../../lib/cache/fan-out.ts";
import { SqliteResultCache } from "../../../lib/cache/result-cache.ts";
import { resolveConfig } from "../../../lib/config/mod.ts";
import { openResultCacheFor } from "../../../lib/delegation/mod.ts";
import type { ResultCache } from "../../../lib/cache/store.ts";
import { DatabaseClient, parseMaxInflight } from "../../../lib/clients/database.ts";
import { createDatabaseHandler } from "../../../lib/servers/database.ts";
import { withErrorHandling } from "../../../lib/servers/http.ts";
import { handlerTransport } from "../../../lib/servers/in-process.ts";
import type { HttpAnswer } from "../../../lib/wire/http-client.ts";
import type { HttpTransport } from "../../../lib/wire/transport.ts";
import { tempDir } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const TF = "4".repeat(64);
const RES = "5".repeat(64);
const OTHER = "6".repeat(64);

/** A transport that hands each request to the server handler: the codec round trip without a socket. */
function databaseTransport(file: DatabaseFile, writable = true): { transport: HttpTransport; sent: string[] } {
  const inner = handlerTransport(withErrorHandling(createDatabaseHandler({ file, writable }), SILENT_LOG));
  const sent: string[] = [];
  const transport: HttpTransport = {
    ...inner,
    request: (path, options) => {
      sent.push(`${options.method} ${path} ${options.body ?? ""}`);
      return inner.request(path, options);
    },
  };
  return { transport, sent };
}

/** A transport whose whole-body requests are answered by `answer` (the client needs no other kind). */
function fakeTransport(answer: (method: string, path: string) => Promise<HttpAnswer>): HttpTransport {
  const unused = () => Promise.reject(new Error("not used by the database client"));
  return { request: (path, options) => answer(options.method, path), requestStreaming: unused, streamGet: unused };
}

/** The contract every ResultCache keeps, run against each implementation. */
async function checkContract(cache: ResultCache): Promise<void> {
  expect(await cache.getResult(TF)).toBeNull();
  expect(await cache.getExecutionRecord(TF)).toBeNull();
  expect(await cache.getTransformationsOf(RES)).toEqual([]);
  const record = { schema_version: 1, tf_checksum: TF, result_checksum: RES, seamless_version: "x", execution_mode: "process", wall_time_seconds: 0.25 };
  expect(await cache.setExecutionRecord(TF, RES, record)).toBe(true);
  expect(await cache.getResult(TF)).toBe(RES);
  expect(await cache.getTransformationsOf(RES)).toEqual([TF]);
  expect(await cache.getExecutionRecord(TF)).toEqual(record);
  expect(await cache.setExecutionRecord(TF, RES, { ...record, wall_time_seconds: 9 })).toBe(false);
  expect(await cache.markIrreproducible(TF, OTHER)).toBe(false);
  expect(await cache.markIrreproducible(TF, RES)).toBe(true);
  expect(await cache.getResult(TF)).toBeNull();
  expect(await cache.getIrreproducible(TF)).toEqual([{ checksum: TF, result: RES, metadata: record }]);
  expect(await cache.getIrreproducible(TF, OTHER)).toEqual([]);
  await cache.setResult(TF, OTHER);
  expect(await cache.getResult(TF)).toBe(OTHER);
}

describe("ResultCache implementations keep one contract", () => {
  test("SqliteResultCache (embedded)", async () => {
    using dir = tempDir();
    const cache = new SqliteResultCache(join(dir.path, "seamless.db"));
    await checkContract(cache);
    cache.close();
  });

  test("DatabaseClient round trip through createDatabaseHandler (codec shared, no socket)", async () => {
    using dir = tempDir();
    const file = DatabaseFile.openForServer(join(dir.path, "seamless.db"), true);
    const { transport, sent } = databaseTransport(file);
    const client = new DatabaseClient("http://127.0.0.1:1", { transport });
    expect(await client.protocol()).toEqual(["seamless", "database", "2.2"]);
    await checkContract(client);
    expect(sent[0]).toBe("GET /healthcheck ");
    expect(sent).toContain(`GET / {"type":"transformation","checksum":"${TF}"}`);
    file.close();
  });

  test("FanOutResultCache: reads in order, first hit wins; writes reach every writer", async () => {
    using dir = tempDir();
    const first = new SqliteResultCache(join(dir.path, "a.db"));
    const second = new SqliteResultCache(join(dir.path, "b.db"));
    await second.setResult(TF, OTHER);
    const fan = new FanOutResultCache([first, second], [first, second]);
    expect(await fan.getResult(TF)).toBe(OTHER);
    await fan.setResult(TF, RES);
    expect(await first.getResult(TF)).toBe(RES);
    expect(await second.getResult(TF)).toBe(RES);
    expect(await fan.getResult(TF)).toBe(RES);
    fan.close();
  });
});

describe("DatabaseClient errors", () => {
  test("a read-only client refuses writes before sending; 4xx is an error, not retried", async () => {
    using dir = tempDir();
    const file = DatabaseFile.openForServer(join(dir.path, "seamless.db"), true);
    const { transport, sent } = databaseTransport(file);
    const reader = new DatabaseClient("http://127.0.0.1:1", { transport, readonly: true });
    await expect(reader.setResult(TF, RES)).rejects.toThrow("is read-only");
    expect(sent).toEqual([]);
    const readOnlyServer = databaseTransport(file, false);
    const writer = new DatabaseClient("http://127.0.0.1:1", { transport: readOnlyServer.transport });
    await expect(writer.setResult(TF, RES)).rejects.toThrow("answered 405 (ERROR: Database server is read-only)");
    expect(readOnlyServer.sent.filter((line) => line.startsWith("PUT")).length).toBe(1);
    file.close();
  });

  test("connection failures and 5xx are tried 5 times, then one line names the server", async () => {
    let calls = 0;
    // Each attempt sends its request (and, while the server is not known healthy, a health check beside it).
    const failing = fakeTransport(async (_method, path) => {
      if (path !== "/healthcheck") calls++;
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    });
    const client = new DatabaseClient("http://127.0.0.1:9/", { transport: failing });
    const error = await client.getResult(TF).catch((e) => e as Error);
    expect(calls).toBe(5);
    expect((error as Error).message).toBe(`Cannot look up transformation "${TF}": database server http://127.0.0.1:9: connection refused (5 attempts)`);
    let served = 0;
    const flaky = fakeTransport(async (_method, path) => {
      served++;
      if (path === "/healthcheck") return { status: 200, body: Buffer.from("OK") };
      return served < 4 ? { status: 500, body: Buffer.from("500 Internal Server Error") } : { status: 200, body: Buffer.from(RES) };
    });
    expect(await new DatabaseClient("http://x:1", { transport: flaky }).getResult(TF)).toBe(RES);
  });

  test("startKeepalive() sends health checks until stopped, ignoring failures", async () => {
    const paths: string[] = [];
    const transport = fakeTransport(async (_method, path) => {
      paths.push(path);
      throw new Error("down");
    });
    const stop = new DatabaseClient("http://x:1", { transport }).startKeepalive(5);
    for (let i = 0; i < 400 && paths.length < 2; i++) await Bun.sleep(5);
    stop();
    expect(paths.slice(0, 2)).toEqual(["/healthcheck", "/healthcheck"]);
  });

  test("SEAMLESS_DATABASE_MAX_INFLIGHT: default 30, garbage 30, 0 unlimited", () => {
    expect([parseMaxInflight(undefined), parseMaxInflight("abc"), parseMaxInflight("4"), parseMaxInflight("0"), parseMaxInflight("-1")]).toEqual([30, 30, 4, 0, -1]);
  });

  test("at most SEAMLESS_DATABASE_MAX_INFLIGHT GETs are in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = fakeTransport(async (_method, path) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await Bun.sleep(5);
      inFlight--;
      return path === "/healthcheck" ? { status: 200, body: Buffer.from("OK") } : { status: 404, body: Buffer.from("ERROR: Unknown key") };
    });
    const client = new DatabaseClient("http://x:1", { transport: slow, maxInflight: 3 });
    await client.getResult(TF);
    peak = 0;
    expect(await Promise.all(Array.from({ length: 12 }, () => client.getResult(TF)))).toEqual(Array(12).fill(null));
    expect(peak).toBe(3);
  });
});

describe("extern clients from the environment (services-spec §6.5)", () => {
  const json = JSON.stringify({
    database: [{ readonly: false, url: "http://localhost:40123", remote_url: "http://frontend:60213" }, { url: "http://ro:1" }],
    buffer: [{ readonly: true, url: "http://ro-buffers:1" }, { readonly: false, url: "http://localhost:40122" }, { directory: "/d" }],
  });

  const urls = (env: Record<string, string>) => resolveConfig(env, "/nonexistent").clients.database.map((c) => (c.kind === "url" ? { url: c.url, readonly: c.readonly } : c.kind));

  test("SEAMLESS_DATABASE comes first; readonly defaults to true", () => {
    expect(urls({ SEAMLESS_DATABASE: "http://db:5", SEAMLESS_REMOTE_CLIENTS: json })).toEqual([
      { url: "http://db:5", readonly: false },
      { url: "http://localhost:40123", readonly: false },
      { url: "http://ro:1", readonly: true },
    ]);
  });

  test("malformed SEAMLESS_REMOTE_CLIENTS is one clear error", () => {
    expect(() => resolveConfig({ SEAMLESS_REMOTE_CLIENTS: "{nope" }, "/x")).toThrow("Cannot read SEAMLESS_REMOTE_CLIENTS: not valid JSON");
    expect(() => resolveConfig({ SEAMLESS_REMOTE_CLIENTS: '{"database": {}}' }, "/x")).toThrow('"database" must be a list of objects');
  });

  test("openResultCacheFor(): embedded without servers, the client with one, fan-out with read-only ones", async () => {
    using dir = tempDir();
    const embedded = await openResultCacheFor(resolveConfig({ SEAMLESS_CACHE: dir.path }, dir.path));
    expect(embedded).toBeInstanceOf(SqliteResultCache);
    embedded.close();
    const single = await openResultCacheFor(resolveConfig({ SEAMLESS_CACHE: dir.path, SEAMLESS_DATABASE: "http://localhost:7/" }, dir.path));
    expect(single).toBeInstanceOf(DatabaseClient);
    expect(single.location).toBe("http://localhost:7");
    const readOnly = await openResultCacheFor(resolveConfig({ XDG_CACHE_HOME: dir.path, SEAMLESS_REMOTE_CLIENTS: JSON.stringify({ database: [{ url: "http://ro:1" }] }) }, dir.path));
    expect(readOnly).toBeInstanceOf(FanOutResultCache);
    expect((readOnly as FanOutResultCache).writers.map((cache) => cache.location)).toEqual([join(dir.path, "seamless", "__TOPLEVEL__", "seamless.db")]);
    readOnly.close();
  });
});

describe("DatabaseFile on the Python schema (services-spec §3.5)", () => {
  test("a file made from the Python server's schema is served; ours has the same tables and columns", async () => {
    using dir = tempDir();
    const pythonPath = join(dir.path, "python.db");
    const python = new Database(pythonPath, { create: true });
    python.exec(readFileSync(join(import.meta.dir, "../../fixtures/python-schema.sql"), "utf8"));
    python.query(`INSERT INTO "transformation" VALUES (?, ?)`).run(TF, RES);
    python.query(`INSERT INTO "meta_data" VALUES (?, ?, ?)`).run(TF, RES, `{"schema_version":1,"tf_checksum":"${TF}","result_checksum":"${RES}","t":1.0}`);
    python.close();
    const file = DatabaseFile.openForServer(pythonPath, false);
    const { transport } = databaseTransport(file, false);
    const client = new DatabaseClient("http://x:1", { transport });
    expect(await client.getResult(TF)).toBe(RES);
    expect(await client.getExecutionRecord(TF)).toEqual({ schema_version: 1, tf_checksum: TF, result_checksum: RES, t: 1 });
    file.close();

    const oursPath = join(dir.path, "ours.db");
    DatabaseFile.openForServer(oursPath, true).close();
    const columnsOf = (path: string) => {
      const db = new Database(path, { readonly: true });
      const tables = (db.query(`SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`).all() as { name: string }[]).map((row) => row.name);
      const layout = tables.map((table) => [table, db.query(`PRAGMA table_info("${table}")`).all()]);
      db.close();
      return layout;
    };
    // Beyond DB @300b13c's tables ours holds only the newer `hash_type` table (services-spec §9).
    expect(columnsOf(oursPath).filter(([table]) => table !== "hash_type")).toEqual(columnsOf(pythonPath));
  });

  test("records are stored as peewee's JSONField stores them: SQLite json() of Python json.dumps", async () => {
    using dir = tempDir();
    const path = join(dir.path, "seamless.db");
    const cache = new SqliteResultCache(path);
    await cache.setExecutionRecord(TF, RES, { schema_version: 1, tf_checksum: TF, result_checksum: RES, host: "héte" });
    cache.close();
    const db = new Database(path, { readonly: true });
    expect(db.query(`SELECT metadata FROM meta_data`).get()).toEqual({ metadata: `{"schema_version":1,"tf_checksum":"${TF}","result_checksum":"${RES}","host":"h\\u00e9te"}` });
    db.close();
  });

  test("a legacy two-column meta_data table: dropped when empty, refused when it holds rows", () => {
    using dir = tempDir();
    const path = join(dir.path, "legacy.db");
    const db = new Database(path, { create: true });
    db.exec(`CREATE TABLE "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "metadata" TEXT NOT NULL)`);
    db.close();
    DatabaseFile.openForServer(path, true).close();
    const full = join(dir.path, "legacy-full.db");
    const db2 = new Database(full, { create: true });
    db2.exec(`CREATE TABLE "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "metadata" TEXT NOT NULL)`);
    db2.query(`INSERT INTO meta_data VALUES (?, ?)`).run(TF, "{}");
    db2.close();
    expect(() => DatabaseFile.openForServer(full, true)).toThrow("legacy 'meta_data' table is non-empty");
  });

  test("a file that is not SQLite, or is corrupt, is refused and left byte for byte untouched", () => {
    using dir = tempDir();
    const text = join(dir.path, "notes.db");
    writeFileSync(text, "these are my notes, not a database\n".repeat(20));
    const before = readFileSync(text);
    expect(() => DatabaseFile.openForServer(text, true)).toThrow("not an SQLite file (left untouched)");
    expect(readFileSync(text).equals(before)).toBe(true);
    const corrupt = join(dir.path, "corrupt.db");
    const db = new Database(corrupt, { create: true });
    db.exec(`CREATE TABLE t (x TEXT)`);
    db.transaction(() => {
      for (let i = 0; i < 200; i++) db.query(`INSERT INTO t VALUES (?)`).run("y".repeat(500));
    })();
    db.close();
    const bytes = readFileSync(corrupt);
    bytes.fill(0xab, 4096, bytes.length - 100);
    writeFileSync(corrupt, bytes);
    expect(() => DatabaseFile.openForServer(corrupt, true)).toThrow("corrupt or unreadable");
    expect(readFileSync(corrupt).equals(bytes)).toBe(true);
    expect(() => DatabaseFile.openForServer(join(dir.path, "missing.db"), false)).toThrow("must exist when --writable is not set");
  });
});
