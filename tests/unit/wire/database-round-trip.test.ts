/** The database codec round trip: DatabaseClient → wire/database → createDatabaseHandler → back, no socket. */
import { expect, test } from "bun:test";
import { SILENT_LOG } from "../../../lib/log.ts";
import { join } from "node:path";
import { DatabaseFile } from "../../../lib/cache/database-file.ts";
import { SqliteResultCache } from "../../../lib/cache/result-cache.ts";
import { DatabaseClient } from "../../../lib/clients/database.ts";
import { RemoteError } from "../../../lib/errors.ts";
import { createDatabaseHandler } from "../../../lib/servers/database.ts";
import { withErrorHandling } from "../../../lib/servers/http.ts";
import { handlerTransport } from "../../../lib/servers/in-process.ts";
import type { HttpTransport } from "../../../lib/wire/transport.ts";
import { tempDir } from "../../helpers.ts";

const TF = "a1".repeat(32);
const RESULT = "b2".repeat(32);
const OTHER = "c3".repeat(32);

/** A client on the handler of a database server over `file`, and the requests it sent. */
function clientOn(file: DatabaseFile, writable = true): { client: DatabaseClient; sent: string[] } {
  const inner = handlerTransport(withErrorHandling(createDatabaseHandler({ file, writable }), SILENT_LOG));
  const sent: string[] = [];
  const transport: HttpTransport = { ...inner, request: (path, options) => (sent.push(`${options.method} ${path} ${options.body ?? ""}`.trimEnd()), inner.request(path, options)) };
  return { client: new DatabaseClient("http://in-process", { transport }), sent };
}

test("DatabaseClient round trip through createDatabaseHandler: every request type the client sends", async () => {
  using dir = tempDir();
  const path = join(dir.path, "seamless.db");
  const file = DatabaseFile.openForServer(path, true);
  const { client, sent } = clientOn(file);
  const record = { schema_version: 1, tf_checksum: TF, result_checksum: RESULT, execution_mode: "process", wall_time_seconds: 1.5 };

  expect(await client.protocol()).toEqual(["seamless", "database", "2.2"]);
  expect(await client.getResult(TF)).toBeNull();
  await client.setResult(TF, RESULT);
  expect(await client.getResult(TF)).toBe(RESULT);
  expect(await client.getTransformationsOf(RESULT)).toEqual([TF]);
  expect(await client.getExecutionRecord(TF)).toBeNull();
  expect(await client.setExecutionRecord(TF, RESULT, record)).toBe(true);
  expect(await client.getExecutionRecord(TF)).toEqual(record);
  // Write-once: another record for the same transformation is refused (409), not an error.
  expect(await client.setExecutionRecord(TF, RESULT, { ...record, wall_time_seconds: 9 })).toBe(false);
  expect(await client.getIrreproducible(TF)).toEqual([]);
  // Not the stored result: refused (404 on the wire).
  expect(await client.markIrreproducible(TF, OTHER)).toBe(false);
  expect(await client.markIrreproducible(TF, RESULT)).toBe(true);
  expect(await client.getResult(TF)).toBeNull();
  expect(await client.getIrreproducible(TF)).toEqual([{ checksum: TF, result: RESULT, metadata: record }]);
  expect(await client.getIrreproducible(TF, RESULT)).toEqual([{ checksum: TF, result: RESULT, metadata: record }]);
  expect(await client.getIrreproducible(TF, OTHER)).toEqual([]);

  expect(sent.slice(0, 5)).toEqual([
    "GET /healthcheck",
    'GET / {"type":"protocol"}',
    `GET / {"type":"transformation","checksum":"${TF}"}`,
    `PUT / {"type":"transformation","checksum":"${TF}","value":"${RESULT}"}`,
    `GET / {"type":"transformation","checksum":"${TF}"}`,
  ]);
  expect(sent).toContain(`GET / {"type":"rev_transformations","checksum":"${RESULT}"}`);
  expect(sent).toContain(`PUT / ${JSON.stringify({ type: "metadata", checksum: TF, result: RESULT, value: record })}`);
  expect(sent).toContain(`PUT / {"type":"irreproducible","checksum":"${TF}","result":"${RESULT}"}`);
  expect(sent).toContain(`GET / {"type":"irreproducible","checksum":"${TF}","result":"${OTHER}"}`);
  file.close();

  // What the server wrote is in the file, for the embedded cache to read.
  const embedded = new SqliteResultCache(path);
  expect(await embedded.getIrreproducible(TF)).toEqual([{ checksum: TF, result: RESULT, metadata: record }]);
  embedded.close();
});

test("DatabaseClient round trip: a read-only server refuses writes with 405 and its ERROR line", async () => {
  using dir = tempDir();
  DatabaseFile.openForServer(join(dir.path, "seamless.db"), true).close();
  const file = DatabaseFile.openForServer(join(dir.path, "seamless.db"), false);
  const { client } = clientOn(file, false);
  const error = await client.setResult(TF, RESULT).catch((e) => e);
  expect(error).toBeInstanceOf(RemoteError);
  expect(error.status).toBe(405);
  expect(error.message).toContain("ERROR: Database server is read-only");
  expect(await client.getResult(TF)).toBeNull();
  file.close();
});
