/**
 * The request types newer than DB @300b13c (services-spec §9): `hash_type` with its word grammar
 * and tighten-only rule, and `expression` keyed by (checksum, path, input_celltype, celltype),
 * write-once. Cases follow upstream's contract tests (seamless-database
 * tests/test_contract_hashtype_db.py, test_hash_type_tightening.py), one test per rule.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { DatabaseFile } from "../../../lib/cache/database-file.ts";
import { SILENT_LOG } from "../../../lib/log.ts";
import { DatabaseClient } from "../../../lib/clients/database.ts";
import type { HttpAnswer } from "../../../lib/wire/http-client.ts";
import type { HttpTransport } from "../../../lib/wire/transport.ts";

/** A request → answer function, as the database client sends (method, path, body). */
type DatabaseTransport = (method: string, path: string, body?: string) => Promise<HttpAnswer>;

/** The client's transport around such a function (the client sends whole-body requests only). */
function transportOf(answer: DatabaseTransport): HttpTransport {
  const unused = () => Promise.reject(new Error("not used by the database client"));
  return { request: (path, options) => answer(options.method ?? "GET", path, options.body as string | undefined), requestStreaming: unused, streamGet: unused };
}
import { createDatabaseHandler } from "../../../lib/servers/database.ts";
import { makeServiceRequest, withErrorHandling, type ServiceHandler } from "../../../lib/servers/http.ts";
import { HashTypeFlag as Flag, HashTypeKind as Kind, isValidHashTypeWord, packHashType, settleHashType } from "../../../lib/wire/database.ts";
import { tempDir } from "../../helpers.ts";

const CS = "e".repeat(64);
const IN = "a".repeat(64);
const R1 = "b".repeat(64);
const R2 = "c".repeat(64);
const SHORT = 0, EQ64 = 1, MEDIUM = 2, LONG = 3;
const NUMERIC = 1, NONNUMERIC = 2, STRUCTURED = 3;
const D1 = 1, D3PLUS = 3;
const w = (kind: number, length: number, rest: { dtype?: number; rank?: number; flags?: number } = {}) => packHashType({ kind, length, ...rest });

async function send(handler: ServiceHandler, method: string, body: unknown): Promise<{ status: number; body: string }> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const response = await handler(makeServiceRequest(method, "/", text));
  return { status: response.status, body: typeof response.body === "string" ? response.body : Buffer.from(response.body as Uint8Array).toString("utf8") };
}

function withServer(run: (h: ServiceHandler, file: DatabaseFile, path: string) => Promise<void>): () => Promise<void> {
  return async () => {
    using dir = tempDir();
    const path = join(dir.path, "seamless.db");
    const file = DatabaseFile.openForServer(path, true);
    try {
      await run(withErrorHandling(createDatabaseHandler({ file, writable: true }), SILENT_LOG), file, path);
    } finally {
      file.close();
    }
  };
}

const put = (h: ServiceHandler, word: unknown) => send(h, "PUT", { type: "hash_type", checksum: CS, value: word });
const stored = async (h: ServiceHandler) => (await send(h, "GET", { type: "hash_type", checksum: CS })).body;

const MALFORMED: Record<string, unknown> = {
  "dtype on a non-NumPy kind": w(Kind.rawText, SHORT, { dtype: NUMERIC }),
  "NumPy without dtype": w(Kind.numpy, SHORT),
  "rank on a non-NumPy kind": w(Kind.jsonArray, SHORT, { rank: D1 }),
  "NUMPY_BYTES on a 1-D array": w(Kind.numpy, SHORT, { dtype: NONNUMERIC, rank: D1, flags: Flag.numpyBytes }),
  "NUMPY_BYTES on JSON": w(Kind.jsonString, SHORT, { flags: Flag.numpyBytes }),
  "JSON number without NUMERIC_SCALAR": w(Kind.jsonNumber, SHORT),
  "NUMERIC_SCALAR on an object": w(Kind.jsonObject, SHORT, { flags: Flag.numericScalar }),
  "the retired SEMANTIC bit": w(Kind.rawText, SHORT, { flags: Flag.semantic }),
  "flags on UNTESTED": w(Kind.untested, SHORT, { flags: Flag.numericScalar }),
  "unused kind 12": 12,
  "a bool": true,
  "beyond 13 bits": 8192,
  "negative": -1,
  "a string": "4",
  "null": null,
};

describe("hash_type: the word grammar", () => {
  for (const [name, word] of Object.entries(MALFORMED)) {
    test(`PUT hash_type rejects ${name} with 400 and stores nothing`, withServer(async (h) => {
      expect(isValidHashTypeWord(word)).toBe(false);
      expect(await put(h, word)).toEqual({ status: 400, body: "ERROR: Malformed PUT hash_type request" });
      expect(await send(h, "GET", { type: "hash_type", checksum: CS })).toEqual({ status: 404, body: "ERROR: Unknown key" });
    }));
  }

  test("PUT hash_type rejects a float spelling of a valid word (4.0) and a missing value", withServer(async (h) => {
    expect(await send(h, "PUT", `{"type": "hash_type", "checksum": "${CS}", "value": 4.0}`)).toEqual({ status: 400, body: "ERROR: Malformed PUT hash_type request" });
    expect(await send(h, "PUT", { type: "hash_type", checksum: CS })).toEqual({ status: 400, body: "ERROR: Malformed PUT hash_type request" });
  }));

  const VALID = [
    w(Kind.jsonNumber, SHORT, { flags: Flag.numericScalar }),
    w(Kind.jsonString, LONG, { flags: Flag.numericScalar }),
    w(Kind.numpy, MEDIUM, { dtype: NONNUMERIC, flags: Flag.numpyBytes }),
    w(Kind.numpy, LONG, { dtype: STRUCTURED, rank: D3PLUS }),
    w(Kind.jsonUntested, EQ64),
  ];
  for (const word of VALID) {
    test(`hash_type word ${word} round-trips (PUT then GET answers the bare integer)`, withServer(async (h) => {
      expect(await put(h, word)).toEqual({ status: 200, body: "OK" });
      expect(await send(h, "GET", { type: "hash_type", checksum: CS })).toEqual({ status: 200, body: String(word) });
    }));
  }

  test("GET hash_type of an unknown checksum is 404", withServer(async (h) => {
    expect(await send(h, "GET", { type: "hash_type", checksum: CS })).toEqual({ status: 404, body: "ERROR: Unknown key" });
  }));
});

describe("hash_type: tighten only", () => {
  const tighten: [string, number, number][] = [
    ["UNTESTED by raw bytes of the same length", w(Kind.untested, MEDIUM), w(Kind.rawBytes, MEDIUM)],
    ["UNTESTED by a NumPy word", w(Kind.untested, MEDIUM), w(Kind.numpy, MEDIUM, { dtype: NUMERIC })],
    ["UTF8_UNTESTED by raw text", w(Kind.utf8Untested, MEDIUM), w(Kind.rawText, MEDIUM)],
    ["JSON_UNTESTED by a JSON number", w(Kind.jsonUntested, MEDIUM), w(Kind.jsonNumber, MEDIUM, { flags: Flag.numericScalar })],
    ["UNTESTED by UTF8_UNTESTED", w(Kind.untested, SHORT), w(Kind.utf8Untested, SHORT)],
    ["UTF8_UNTESTED by JSON_UNTESTED", w(Kind.utf8Untested, SHORT), w(Kind.jsonUntested, SHORT)],
    ["JSON_UNTESTED by a JSON string", w(Kind.jsonUntested, SHORT), w(Kind.jsonString, SHORT)],
  ];
  for (const [name, before, after] of tighten) {
    test(`a tighter word replaces the stored one: ${name}`, withServer(async (h) => {
      expect(await put(h, before)).toEqual({ status: 200, body: "OK" });
      expect(await put(h, after)).toEqual({ status: 200, body: "OK" });
      expect(await stored(h)).toBe(String(after));
    }));
  }

  test("a looser word is accepted with 200 and the stored word is kept", withServer(async (h) => {
    const json = w(Kind.jsonUntested, MEDIUM);
    await put(h, json);
    expect(await put(h, w(Kind.utf8Untested, MEDIUM))).toEqual({ status: 200, body: "OK" });
    expect(await put(h, w(Kind.untested, MEDIUM))).toEqual({ status: 200, body: "OK" });
    expect(await stored(h)).toBe(String(json));
    const concrete = w(Kind.jsonString, SHORT);
    expect(settleHashType(concrete, w(Kind.jsonUntested, SHORT))).toBe("keep");
  }));

  test("an equal word is accepted and changes nothing", withServer(async (h, file, path) => {
    const word = w(Kind.jsonString, SHORT);
    await put(h, word);
    expect(await put(h, word)).toEqual({ status: 200, body: "OK" });
    const db = new Database(path, { readonly: true });
    expect(db.query(`SELECT COUNT(*) AS n FROM "hash_type"`).get()).toEqual({ n: 1 });
    db.close();
  }));

  const contradictions: [string, number, number][] = [
    ["UTF8_UNTESTED vs raw bytes", w(Kind.utf8Untested, MEDIUM), w(Kind.rawBytes, MEDIUM)],
    ["UTF8_UNTESTED vs a mixed object", w(Kind.utf8Untested, MEDIUM), w(Kind.mixedObject, MEDIUM)],
    ["JSON_UNTESTED vs raw text", w(Kind.jsonUntested, MEDIUM), w(Kind.rawText, MEDIUM)],
    ["another length bucket", w(Kind.jsonUntested, MEDIUM), w(Kind.jsonUntested, LONG)],
    ["raw text vs JSON_UNTESTED", w(Kind.rawText, MEDIUM), w(Kind.jsonUntested, MEDIUM)],
    ["raw text vs raw bytes", w(Kind.rawText, SHORT), w(Kind.rawBytes, SHORT)],
    ["raw bytes vs raw text", w(Kind.rawBytes, SHORT), w(Kind.rawText, SHORT)],
    ["short vs medium text", w(Kind.rawText, SHORT), w(Kind.rawText, MEDIUM)],
    ["a JSON string with and without NUMERIC_SCALAR", w(Kind.jsonString, SHORT), w(Kind.jsonString, SHORT, { flags: Flag.numericScalar })],
    ["a JSON string without and with NUMERIC_SCALAR", w(Kind.jsonString, SHORT, { flags: Flag.numericScalar }), w(Kind.jsonString, SHORT)],
  ];
  for (const [name, before, after] of contradictions) {
    test(`a contradictory word is 409 and the stored word is kept: ${name}`, withServer(async (h) => {
      await put(h, before);
      const answer = await put(h, after);
      expect(answer.status).toBe(409);
      expect(answer.body).toBe(`ERROR: Conflicting HashType for ${CS}: stored=${before}, incoming=${after}`);
      expect(await stored(h)).toBe(String(before));
    }));
  }
});

describe("hash_type: storage", () => {
  test("the table is created as upstream's peewee model creates it", withServer(async (_h, _file, path) => {
    const db = new Database(path, { readonly: true });
    const row = db.query(`SELECT sql FROM sqlite_master WHERE name = 'hash_type'`).get() as { sql: string };
    expect(row.sql).toBe(`CREATE TABLE "hash_type" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "hash_type" INTEGER NOT NULL)`);
    db.close();
  }));

  test("a read-only server on a file without the table answers 404, and refuses PUT with 405", async () => {
    using dir = tempDir();
    const path = join(dir.path, "old.db");
    DatabaseFile.openForServer(path, true).close();
    const db = new Database(path);
    db.exec(`DROP TABLE "hash_type"`);
    db.close();
    const file = DatabaseFile.openForServer(path, false);
    const h = withErrorHandling(createDatabaseHandler({ file, writable: false }), SILENT_LOG);
    expect(await send(h, "GET", { type: "hash_type", checksum: CS })).toEqual({ status: 404, body: "ERROR: Unknown key" });
    expect(await put(h, 4)).toEqual({ status: 405, body: "ERROR: Database server is read-only" });
    file.close();
  });
});

describe("expression: keyed by (checksum, path, input_celltype, celltype), write-once", () => {
  const key = { checksum: IN, path: "a", input_celltype: "plain", celltype: "str" };

  test("newer shape: PUT, GET, the same result again is 200", withServer(async (h) => {
    expect(await send(h, "GET", { type: "expression", ...key })).toEqual({ status: 404, body: "ERROR: Unknown key" });
    expect(await send(h, "PUT", { type: "expression", ...key, value: R1 })).toEqual({ status: 200, body: "OK" });
    expect(await send(h, "PUT", { type: "expression", ...key, value: R1 })).toEqual({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "expression", ...key })).toEqual({ status: 200, body: R1 });
  }));

  test("a different result is 409 and the stored one is kept", withServer(async (h) => {
    await send(h, "PUT", { type: "expression", ...key, value: R1 });
    expect(await send(h, "PUT", { type: "expression", ...key, value: R2 })).toEqual({ status: 409, body: "ERROR: Expression already exists with different result" });
    expect(await send(h, "GET", { type: "expression", ...key })).toEqual({ status: 200, body: R1 });
  }));

  test("each of the four key fields tells expressions apart", withServer(async (h) => {
    await send(h, "PUT", { type: "expression", ...key, value: R1 });
    for (const other of [{ checksum: R2 }, { path: "b" }, { input_celltype: "mixed" }, { celltype: "text" }]) {
      expect(await send(h, "GET", { type: "expression", ...key, ...other })).toMatchObject({ status: 404 });
      expect(await send(h, "PUT", { type: "expression", ...key, ...other, value: R2 })).toMatchObject({ status: 200 });
    }
  }));

  test("the two request shapes name the same row: input_celltype is DB @300b13c's celltype, celltype its target_celltype", withServer(async (h, _file, path) => {
    await send(h, "PUT", { type: "expression", ...key, value: R1 });
    expect(await send(h, "GET", { type: "expression", checksum: IN, path: "a", celltype: "plain", target_celltype: "str" })).toEqual({ status: 200, body: R1 });
    const db = new Database(path, { readonly: true });
    expect(db.query(`SELECT "input_checksum", "path", "celltype", "target_celltype", "result" FROM "expression"`).all()).toEqual([
      { input_checksum: IN, path: '"a"', celltype: "plain", target_celltype: "str", result: R1 },
    ]);
    db.close();
  }));

  test("newer shape: a long path is stored inline; a path over text is allowed; celltypes stay ≤ 20 characters", withServer(async (h) => {
    const long = Array.from({ length: 20000 }, (_, i) => `member${i}`).join("/");
    expect(await send(h, "PUT", { type: "expression", ...key, path: long, value: R1 })).toEqual({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "expression", ...key, path: long })).toEqual({ status: 200, body: R1 });
    expect(await send(h, "PUT", { type: "expression", ...key, path: [0], input_celltype: "text", value: R1 })).toEqual({ status: 200, body: "OK" });
    expect(await send(h, "PUT", { type: "expression", ...key, celltype: "c".repeat(21), value: R1 })).toEqual({ status: 400, body: "ERROR: Malformed expression request (constraint violation)" });
    expect(await send(h, "GET", { type: "expression", checksum: IN, path: "a", input_celltype: "plain" })).toEqual({ status: 400, body: "ERROR: Malformed expression request" });
  }));
});

describe("DatabaseClient: hash_type and expression operations against the handler", () => {
  function client(file: DatabaseFile): DatabaseClient {
    const handler = withErrorHandling(createDatabaseHandler({ file, writable: true }), SILENT_LOG);
    const transport: DatabaseTransport = async (method, p, body) => {
      const response = await handler(makeServiceRequest(method, p, body));
      return { status: response.status, body: Buffer.from(response.body as string) };
    };
    return new DatabaseClient("http://database.invalid", { transport: transportOf(transport), healthy: true });
  }

  test("setHashType()/getHashType(): round trip, a contradiction is false, a malformed word throws before sending", withServer(async (_h, file) => {
    const c = client(file);
    expect(await c.getHashType(CS)).toBeNull();
    expect(await c.setHashType(CS, w(Kind.rawText, SHORT))).toBe(true);
    expect(await c.getHashType(CS)).toBe(w(Kind.rawText, SHORT));
    expect(await c.setHashType(CS, w(Kind.rawBytes, SHORT))).toBe(false);
    expect(() => c.setHashType(CS, 8192)).toThrow("is not a well-formed HashType word");
    expect(await c.getHashType(CS)).toBe(w(Kind.rawText, SHORT));
  }));

  test("setExpression()/getExpression()/getRevExpressions(): a conflict is false, reverse items carry the key", withServer(async (_h, file) => {
    const c = client(file);
    const k = { checksum: IN, path: "[0]", inputCelltype: "bytes", celltype: "int" };
    expect(await c.getExpression(k)).toBeNull();
    expect(await c.setExpression(k, R1)).toBe(true);
    expect(await c.setExpression(k, R2)).toBe(false);
    expect(await c.getExpression(k)).toBe(R1);
    expect(await c.getRevExpressions(R1)).toEqual([{ ...k, result: R1 }]);
    expect(await c.getRevExpressions(R2)).toEqual([]);
  }));
});
