/** The seamless-database handler, without sockets: every VERIFIED exchange of services-spec §3.6 and the rules of §3.3–§3.4. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { DatabaseFile } from "../../../lib/cache/database-file.ts";
import { createDatabaseHandler } from "../../../lib/servers/database.ts";
import { makeServiceRequest, withErrorHandling, type ServiceHandler } from "../../../lib/servers/http.ts";
import { tempDir } from "../../helpers.ts";

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
  return { handler: withErrorHandling(createDatabaseHandler({ file, writable, maxBodyBytes }), () => {}), file };
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
