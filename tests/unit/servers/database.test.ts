/** The seamless-database handler, without sockets: every VERIFIED exchange of services-spec §3.6 and the rules of §3.3–§3.4. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { DatabaseFile } from "../../../lib/cache/database-file.ts";
import { createDatabaseHandler } from "../../../lib/servers/database.ts";
import { makeServiceRequest, withErrorHandling, type ServiceHandler } from "../../../lib/servers/http.ts";
import { tempDir } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const A = "1".repeat(64);
const B = "2".repeat(64);
const TF = "4".repeat(64);
const RES = "5".repeat(64);
const D = "d".repeat(64);
const E = "e".repeat(64);

interface Exchange {
  status: number;
  body: string;
  contentType?: string;
}

function serverOn(path: string, writable = true, maxBodyBytes?: number): { handler: ServiceHandler; file: DatabaseFile } {
  const file = DatabaseFile.openForServer(path, writable);
  return { handler: withErrorHandling(createDatabaseHandler({ file, writable, maxBodyBytes }), SILENT_LOG), file };
}

async function send(handler: ServiceHandler, method: string, body: unknown, path = "/"): Promise<Exchange> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const response = await handler(makeServiceRequest(method, path, text));
  const responseBody = response.body;
  return { status: response.status, body: typeof responseBody === "string" ? responseBody : Buffer.from(responseBody as Uint8Array).toString("utf8"), contentType: response.headers?.["content-type"] };
}

function withServer(run: (handler: ServiceHandler, path: string) => Promise<void>, writable = true): () => Promise<void> {
  return async () => {
    using dir = tempDir();
    const path = join(dir.path, "seamless.db");
    const { handler, file } = serverOn(path, writable);
    try {
      await run(handler, path);
    } finally {
      file.close();
    }
  };
}

const record = { schema_version: 1, tf_checksum: TF, result_checksum: RES, seamless_version: "x", execution_mode: "process" };

describe("createDatabaseHandler() answers the VERIFIED exchanges of services-spec §3.6", () => {
  test("protocol, transformation 404/PUT/GET, rev_transformations", withServer(async (h) => {
    expect(await send(h, "GET", { type: "protocol" })).toEqual({ status: 200, body: '["seamless", "database", "2.2"]', contentType: "text/plain; charset=utf-8" });
    expect(await send(h, "GET", { type: "transformation", checksum: A })).toMatchObject({ status: 404, body: "ERROR: Unknown key" });
    expect(await send(h, "PUT", { type: "transformation", checksum: A, value: B })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "transformation", checksum: A })).toMatchObject({ status: 200, body: B });
    expect(await send(h, "GET", { type: "rev_transformations", checksum: B })).toMatchObject({ status: 200, body: `["${A}"]` });
  }));

  test("metadata: stored, idempotent, a different record is 409; irreproducible moves it", withServer(async (h) => {
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: record })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: record })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: { ...record, extra: 1 } })).toMatchObject({ status: 409, body: "ERROR: Execution record already exists with different metadata" });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: TF, result: RES })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "irreproducible", checksum: TF })).toMatchObject({
      status: 200,
      body: `[{"checksum": "${TF}", "result": "${RES}", "metadata": {"schema_version": 1, "tf_checksum": "${TF}", "result_checksum": "${RES}", "seamless_version": "x", "execution_mode": "process"}}]`,
    });
  }));

  test("buffer_info merges and answers sorted keys", withServer(async (h) => {
    expect(await send(h, "PUT", { type: "buffer_info", checksum: B, value: { length: 5, is_utf8: true } })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "PUT", { type: "buffer_info", checksum: B, value: { is_json: false } })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "buffer_info", checksum: B })).toMatchObject({ status: 200, body: '{"is_json": false, "is_utf8": true, "length": 5}' });
  }));

  test("expression PUT and GET", withServer(async (h) => {
    const key = { checksum: D, path: ["a", 0], celltype: "mixed", target_celltype: "int" };
    expect(await send(h, "PUT", { type: "expression", ...key, value: E })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "expression", ...key })).toMatchObject({ status: 200, body: E });
  }));

  test("a checksum of valid hex but wrong length is 400 (Python: 500), non-hex is 400 Malformed request", withServer(async (h) => {
    const short = await send(h, "GET", { type: "transformation", checksum: "abcd" });
    expect(short.status).toBe(400);
    expect(short.body).toBe('ERROR: Malformed request: "checksum" is not 64 hexadecimal characters');
    expect(await send(h, "GET", { type: "transformation", checksum: "z".repeat(64) })).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
  }));
});

describe("createDatabaseHandler() and deeply nested JSON", () => {
  test("a value nested 100k levels deep is 400 Malformed request, not a 500, and nothing is stored", withServer(async (h) => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const body = `{"type": "buffer_info", "checksum": "${"f".repeat(64)}", "value": {"zz": ${deep}}}`;
    expect(await send(h, "PUT", body)).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
    expect((await send(h, "GET", { type: "buffer_info", checksum: "f".repeat(64) })).status).toBe(404);
    expect((await send(h, "GET", "/healthcheck", "/healthcheck")).status).toBe(200);
  }));
});

describe("createDatabaseHandler() rules of services-spec §3.3–§3.4", () => {
  test("the path is ignored; /healthcheck answers OK; other methods 405", withServer(async (h) => {
    expect(await send(h, "GET", { type: "protocol" }, "/foo/bar")).toMatchObject({ status: 200, body: '["seamless", "database", "2.2"]' });
    expect(await send(h, "GET", "", "/healthcheck")).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "POST", { type: "protocol" })).toMatchObject({ status: 405, body: "405: Method Not Allowed" });
  }));

  test("upper-case checksums are normalised to lower case", withServer(async (h) => {
    await send(h, "PUT", { type: "transformation", checksum: "A".repeat(64), value: "B".repeat(64) });
    expect(await send(h, "GET", { type: "transformation", checksum: "a".repeat(64) })).toMatchObject({ status: 200, body: "b".repeat(64) });
  }));

  test("PUT transformation overwrites and appends reverse rows; the overwritten result's rows go (QUIRK fixed)", withServer(async (h) => {
    await send(h, "PUT", { type: "transformation", checksum: A, value: B });
    await send(h, "PUT", { type: "transformation", checksum: A, value: B });
    expect((await send(h, "GET", { type: "rev_transformations", checksum: B })).body).toBe(`["${A}", "${A}"]`);
    await send(h, "PUT", { type: "transformation", checksum: A, value: D });
    expect(await send(h, "GET", { type: "transformation", checksum: A })).toMatchObject({ body: D });
    expect(await send(h, "GET", { type: "rev_transformations", checksum: B })).toMatchObject({ status: 404, body: "ERROR: Unknown key" });
    expect(await send(h, "PUT", { type: "transformation", checksum: A, value: "xyz" })).toMatchObject({ status: 400, body: "ERROR: Malformed PUT transformation result request: value must be a checksum" });
    expect(await send(h, "PUT", { type: "transformation", checksum: A })).toMatchObject({ status: 400, body: "ERROR: Malformed PUT transformation result request: value must be a checksum" });
  }));

  test("PUT metadata creates the result entry; every conflict has its status and text", withServer(async (h) => {
    await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: JSON.stringify(record) });
    expect(await send(h, "GET", { type: "transformation", checksum: TF })).toMatchObject({ status: 200, body: RES });
    expect(await send(h, "GET", { type: "rev_transformations", checksum: RES })).toMatchObject({ body: `["${TF}"]` });
    expect(await send(h, "GET", { type: "metadata", checksum: TF })).toMatchObject({ status: 200, body: `{"schema_version": 1, "tf_checksum": "${TF}", "result_checksum": "${RES}", "seamless_version": "x", "execution_mode": "process"}` });
    // Equal for Python: 1 == 1.0, key order irrelevant.
    const reordered = { execution_mode: "process", seamless_version: "x", result_checksum: RES, tf_checksum: TF, schema_version: 1 };
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: reordered })).toMatchObject({ status: 200 });
    // schema_version must be an int: 1.0 is refused.
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: '{"schema_version": 1.0, "tf_checksum": "' + TF + '", "result_checksum": "' + RES + '", "seamless_version": "x", "execution_mode": "process"}' })).toMatchObject({ status: 400 });
    const other = { ...record, result_checksum: D };
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: D, value: other })).toMatchObject({ status: 409, body: "ERROR: Transformation result does not match execution record result" });
    await send(h, "PUT", { type: "transformation", checksum: TF, value: D });
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: D, value: other })).toMatchObject({ status: 409, body: "ERROR: Execution record result does not match stored metadata result" });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: TF, result: RES })).toMatchObject({ status: 404, body: "ERROR: Transformation does not have the irreproducible result" });
    await send(h, "PUT", { type: "transformation", checksum: TF, value: RES });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: TF, result: D })).toMatchObject({ status: 404 });
  }));

  test("irreproducible: without a record, filtered GET, then metadata is refused but a plain PUT re-creates the entry", withServer(async (h) => {
    await send(h, "PUT", { type: "transformation", checksum: A, value: B });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: A, result: B })).toMatchObject({ status: 200, body: "OK" });
    expect(await send(h, "GET", { type: "transformation", checksum: A })).toMatchObject({ status: 404 });
    expect(await send(h, "GET", { type: "irreproducible", checksum: A })).toMatchObject({ status: 200, body: `[{"checksum": "${A}", "result": "${B}", "metadata": ""}]` });
    expect(await send(h, "GET", { type: "irreproducible", checksum: A, result: D })).toMatchObject({ status: 404, body: "ERROR: Unknown key" });
    expect(await send(h, "GET", { type: "irreproducible", checksum: A, result: B })).toMatchObject({ status: 200 });
    const rec = { schema_version: 1, tf_checksum: A, result_checksum: B };
    expect(await send(h, "PUT", { type: "metadata", checksum: A, result: B, value: rec })).toMatchObject({ status: 409, body: "ERROR: Transformation already has irreproducible records" });
    expect(await send(h, "PUT", { type: "transformation", checksum: A, value: B })).toMatchObject({ status: 200 });
    expect(await send(h, "GET", { type: "transformation", checksum: A })).toMatchObject({ status: 200, body: B });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: A, result: D })).toMatchObject({ status: 404 });
    expect(await send(h, "PUT", { type: "irreproducible", checksum: A, result: "nothex" })).toMatchObject({ status: 400, body: "ERROR: Malformed 'irreproducible' request" });
  }));

  test("PUT metadata identity validation", withServer(async (h) => {
    const bad = [
      { type: "metadata", checksum: TF, result: RES },
      { type: "metadata", checksum: TF, value: record },
      { type: "metadata", checksum: TF, result: RES, value: { ...record, schema_version: "1" } },
      { type: "metadata", checksum: TF, result: RES, value: { ...record, schema_version: 1.5 } },
      { type: "metadata", checksum: TF, result: RES, value: { ...record, tf_checksum: D } },
      { type: "metadata", checksum: TF, result: RES, value: { ...record, result_checksum: D } },
      { type: "metadata", checksum: TF, result: RES, value: { ...record, checksum_fields: ["a", ""] } },
      { type: "metadata", checksum: TF, result: RES, value: "[1]" },
      { type: "metadata", checksum: TF, result: RES, value: 5 },
      { type: "metadata", checksum: TF, result: "abcd", value: record },
    ];
    for (const body of bad) expect((await send(h, "PUT", body)).body).toStartWith("ERROR: Malformed PUT metadata request");
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: { ...record, schema_version: true, checksum_fields: ["a"], wall: 2 } })).toMatchObject({ status: 200 });
    // Python equality: 2 == 2.0 and true == 1, so this is the same record again.
    const same = `{"schema_version": 1, "tf_checksum": "${TF}", "result_checksum": "${RES}", "seamless_version": "x", "execution_mode": "process", "checksum_fields": ["a"], "wall": 2.0}`;
    expect(await send(h, "PUT", { type: "metadata", checksum: TF, result: RES, value: same })).toMatchObject({ status: 200 });
  }));

  test("buffer_info validation: length a non-negative int, is_* bools, unknown keys kept; stored sorted with indent 2", withServer(async (h, path) => {
    for (const value of [{ length: -1 }, { length: 1.5 }, { is_utf8: 1 }, "x", [1]]) {
      expect(await send(h, "PUT", { type: "buffer_info", checksum: A, value })).toMatchObject({ status: 400, body: "ERROR: Malformed PUT buffer info request" });
    }
    expect(await send(h, "PUT", { type: "buffer_info", checksum: A, value: { zeta: "é", length: 3, dtype: null } })).toMatchObject({ status: 200 });
    expect(await send(h, "GET", { type: "buffer_info", checksum: A })).toMatchObject({ body: '{"dtype": null, "length": 3, "zeta": "\\u00e9"}' });
    const db = new Database(path, { readonly: true });
    expect(db.query(`SELECT buffer_info FROM buffer_info`).get()).toEqual({ buffer_info: '{\n  "dtype": null,\n  "length": 3,\n  "zeta": "\\u00e9"\n}' });
    db.close();
  }));

  test("semantic_to_syntactic and syntactic_to_semantic", withServer(async (h) => {
    const key = { celltype: "plain", subcelltype: "" };
    expect(await send(h, "PUT", { type: "semantic_to_syntactic", checksum: A, ...key, value: [B, D, B] })).toMatchObject({ status: 200 });
    expect(await send(h, "GET", { type: "semantic_to_syntactic", checksum: A, ...key })).toMatchObject({ status: 200, body: `["${B}", "${D}"]` });
    expect(await send(h, "GET", { type: "syntactic_to_semantic", checksum: D, ...key })).toMatchObject({ status: 200, body: `["${A}"]` });
    expect(await send(h, "GET", { type: "syntactic_to_semantic", checksum: D, celltype: "text", subcelltype: "" })).toMatchObject({ status: 404 });
    expect(await send(h, "GET", { type: "syntactic_to_semantic", checksum: D })).toMatchObject({ status: 400, body: "ERROR: Malformed syntactic-to-semantic request" });
    expect(await send(h, "GET", { type: "semantic_to_syntactic", checksum: D })).toMatchObject({ status: 400, body: "ERROR: Malformed semantic-to-syntactic request" });
    expect(await send(h, "PUT", { type: "syntactic_to_semantic", checksum: D, ...key, value: [A] })).toMatchObject({ status: 400, body: "ERROR: Unknown request type" });
    expect(await send(h, "PUT", { type: "semantic_to_syntactic", checksum: A, ...key, value: B })).toMatchObject({ status: 400, body: "ERROR: Malformed PUT semantic-to-syntactic request" });
    const nonHex = await send(h, "PUT", { type: "semantic_to_syntactic", checksum: A, ...key, value: [B, "zz"] });
    expect(nonHex.status).toBe(400);
    expect(nonHex.body).toStartWith("ERROR: Malformed PUT semantic-to-syntactic request");
  }));

  test("expression: write-once, constraints, rev_expression", withServer(async (h) => {
    const key = { checksum: D, path: ["a", 0], celltype: "mixed", target_celltype: "int" };
    await send(h, "PUT", { type: "expression", ...key, value: B });
    expect(await send(h, "PUT", { type: "expression", ...key, value: E })).toMatchObject({ status: 409, body: "ERROR: Expression already exists with different result" });
    expect(await send(h, "GET", { type: "expression", ...key })).toMatchObject({ status: 200, body: B });
    expect(await send(h, "GET", { type: "rev_expression", checksum: B })).toMatchObject({ status: 200, body: `[{"checksum": "${D}", "path": ["a", 0], "celltype": "mixed", "target_celltype": "int", "result": "${B}"}]` });
    expect(await send(h, "GET", { type: "expression", ...key, path: ["a"] })).toMatchObject({ status: 404 });
    expect(await send(h, "GET", { type: "expression", checksum: D, path: [] })).toMatchObject({ status: 400, body: "ERROR: Malformed expression request" });
    const violations = [{ ...key, celltype: "int" }, { ...key, path: ["x".repeat(100)] }, { ...key, target_celltype: "t".repeat(21) }, { ...key, path: 5 }];
    for (const body of violations) expect(await send(h, "PUT", { type: "expression", ...body, value: E })).toMatchObject({ status: 400, body: "ERROR: Malformed expression request (constraint violation)" });
    expect(await send(h, "PUT", { type: "expression", ...key, path: [], celltype: "int", value: E })).toMatchObject({ status: 200 });
  }));

  test("bucket_probe: no checksum, upsert, validation", withServer(async (h) => {
    const probe = { type: "bucket_probe", bucket_kind: "node", label: "n1", bucket_checksum: A, captured_at: "2026-01-01", freshness_tokens: { a: 1 } };
    expect(await send(h, "GET", { type: "bucket_probe", bucket_kind: "node", label: "n1" })).toMatchObject({ status: 404 });
    expect(await send(h, "PUT", probe)).toMatchObject({ status: 200 });
    expect(await send(h, "PUT", { ...probe, bucket_checksum: B, freshness_tokens: '{"b": [1, 2.5]}' })).toMatchObject({ status: 200 });
    expect(await send(h, "GET", { type: "bucket_probe", bucket_kind: "node", label: "n1" })).toMatchObject({ status: 200, body: `{"bucket_kind": "node", "label": "n1", "bucket_checksum": "${B}", "captured_at": "2026-01-01", "freshness_tokens": {"b": [1, 2.5]}}` });
    expect(await send(h, "GET", { type: "bucket_probe", bucket_kind: "node" })).toMatchObject({ status: 400, body: "ERROR: Malformed bucket_probe request" });
    for (const bad of [{ bucket_kind: "cloud" }, { label: "" }, { captured_at: 5 }, { freshness_tokens: [1] }, { bucket_checksum: "zz" }]) {
      expect(await send(h, "PUT", { ...probe, ...bad })).toMatchObject({ status: 400, body: "ERROR: Malformed PUT bucket_probe request" });
    }
  }));

  test("protocol on PUT: without a checksum Malformed request, with one Unknown request type", withServer(async (h) => {
    expect(await send(h, "PUT", { type: "protocol" })).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
    expect(await send(h, "PUT", { type: "protocol", checksum: A })).toMatchObject({ status: 400, body: "ERROR: Unknown request type" });
    expect(await send(h, "PUT", { type: "rev_transformations", checksum: A })).toMatchObject({ status: 400, body: "ERROR: Unknown request type" });
  }));
});

describe("createDatabaseHandler() bad input", () => {
  test("malformed JSON, non-object bodies, unknown and missing types, missing checksum: 400 Malformed request", withServer(async (h) => {
    const bodies = ["{not json", "", "[1]", '"abc"', "5", '{"checksum": "' + A + '"}', '{"type": "contest", "checksum": "' + A + '"}', '{"type": 5}', '{"type": "transformation"}'];
    for (const body of bodies) {
      expect(await send(h, "GET", body)).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
      expect(await send(h, "PUT", body)).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
    }
    expect(await send(h, "GET", Buffer.from([0x7b, 0xff, 0x7d]).toString("latin1"))).toMatchObject({ status: 400 });
  }));

  test("checksums that are not strings, too short or too long, or not hex", withServer(async (h) => {
    for (const checksum of [5, null, "abcd", "a".repeat(66), ["a"]]) {
      const answer = await send(h, "GET", { type: "transformation", checksum });
      expect(answer.status).toBe(400);
      expect(answer.body).toStartWith("ERROR: Malformed request: ");
    }
    for (const checksum of ["g".repeat(64), "a".repeat(63)]) expect(await send(h, "GET", { type: "transformation", checksum })).toMatchObject({ status: 400, body: "ERROR: Malformed request" });
    // bytes.fromhex accepts spaces between byte pairs.
    await send(h, "PUT", { type: "transformation", checksum: A, value: B });
    expect(await send(h, "GET", { type: "transformation", checksum: `11 ${"1".repeat(62)}` })).toMatchObject({ status: 200, body: B });
  }));

  test("a body over the limit is refused with 413, counted while it streams", async () => {
    using dir = tempDir();
    const file = DatabaseFile.openForServer(join(dir.path, "seamless.db"), true);
    const handler = withErrorHandling(createDatabaseHandler({ file, writable: true, maxBodyBytes: 100 }), SILENT_LOG);
    const big = JSON.stringify({ type: "transformation", checksum: A, value: B, padding: "x".repeat(200) });
    const streamed = { method: "PUT", path: "/", headers: {}, body: (async function* () { for (let i = 0; i < big.length; i += 10) yield Buffer.from(big.slice(i, i + 10)); })() };
    const response = await handler(streamed);
    expect(response.status).toBe(413);
    expect(String(response.body)).toStartWith("ERROR: Request body larger than the limit of 100 bytes");
    expect((await handler(makeServiceRequest("PUT", "/", big, { "content-length": String(big.length) }))).status).toBe(413);
    file.close();
  });

  test("a read-only server answers every PUT with 405 and still serves GETs", async () => {
    using dir = tempDir();
    const path = join(dir.path, "seamless.db");
    const writer = serverOn(path);
    await send(writer.handler, "PUT", { type: "transformation", checksum: A, value: B });
    writer.file.close();
    const reader = serverOn(path, false);
    expect(await send(reader.handler, "PUT", { type: "transformation", checksum: A, value: D })).toMatchObject({ status: 405, body: "ERROR: Database server is read-only" });
    expect(await send(reader.handler, "GET", { type: "transformation", checksum: A })).toMatchObject({ status: 200, body: B });
    reader.file.close();
  });
});
