/** The hashserver codec round trip: HttpBufferStore → wire/hashserver → createHashserverHandler → back, no socket. */
import { expect, test } from "bun:test";
import { SILENT_LOG } from "../../../lib/log.ts";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpBufferStore } from "../../../lib/buffers/http-store.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { RemoteError } from "../../../lib/errors.ts";
import { createHashserverHandler } from "../../../lib/servers/hashserver.ts";
import { withErrorHandling } from "../../../lib/servers/http.ts";
import { handlerTransport } from "../../../lib/servers/in-process.ts";
import type { HttpTransport } from "../../../lib/wire/transport.ts";
import { VECTORS } from "../../fixtures/spec-vectors.ts";
import { tempDir } from "../../helpers.ts";

const ABSENT = computeChecksum("absent\n");

/** A client on the handler of a hashserver over `directory`, and the requests it sent. */
function clientOn(directory: string, writable = true): { client: HttpBufferStore; sent: string[] } {
  const inner = handlerTransport(withErrorHandling(createHashserverHandler({ directory, writable, layout: "prefix" }), SILENT_LOG));
  const sent: string[] = [];
  const transport: HttpTransport = {
    request: (path, options) => (sent.push(`${options.method} ${path}${options.body === undefined ? "" : ` ${options.body}`}`), inner.request(path, options)),
    requestStreaming: (path, options, body) => (sent.push(`${options.method} ${path} (streamed)`), inner.requestStreaming(path, options, body)),
    streamGet: (path, onChunk) => (sent.push(`GET ${path} (streamed)`), inner.streamGet(path, onChunk)),
  };
  return { client: new HttpBufferStore("http://in-process", { transport }), sent };
}

test("HttpBufferStore round trip through createHashserverHandler: put, putFile, has, lengths, get, getToFile", async () => {
  using dir = tempDir();
  const store = join(dir.path, "store");
  const { client, sent } = clientOn(store);
  const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 251);
  const bigChecksum = computeChecksum(big);
  const bigFile = join(dir.path, "big.bin");
  writeFileSync(bigFile, big);

  await client.put(VECTORS.hello, Buffer.from("hello\n"));
  let progress = 0;
  await client.putFile(bigChecksum, bigFile, (bytes) => (progress += bytes));
  expect(progress).toBe(big.byteLength);
  // The server stored both under the prefix layout, bytes as sent.
  expect(readFileSync(join(store, VECTORS.hello.slice(0, 2), VECTORS.hello), "utf8")).toBe("hello\n");
  expect(computeChecksum(readFileSync(join(store, bigChecksum.slice(0, 2), bigChecksum)))).toBe(bigChecksum);
  // Storing again is a success (201 Already present).
  await client.put(VECTORS.hello, Buffer.from("hello\n"));

  expect(await client.has([VECTORS.hello, bigChecksum, ABSENT])).toEqual([true, true, false]);
  expect(await client.lengths([VECTORS.hello, bigChecksum, ABSENT])).toEqual([6, big.byteLength, null]);
  expect(Buffer.from((await client.get(VECTORS.hello))!).toString()).toBe("hello\n");
  expect(await client.get(ABSENT)).toBeNull();
  // A trivial buffer is known without the server.
  expect(await client.get(VECTORS.empty)).toEqual(new Uint8Array(0));

  const copy = join(dir.path, "copy.bin");
  let received = 0;
  expect(await client.getToFile(bigChecksum, copy, (bytes) => (received += bytes))).toBe(true);
  expect(computeChecksum(readFileSync(copy))).toBe(bigChecksum);
  expect(received).toBe(big.byteLength);
  expect(await client.getToFile(ABSENT, join(dir.path, "absent"))).toBe(false);

  expect(sent.slice(0, 3)).toEqual([
    "GET /healthcheck",
    `PUT /${VECTORS.hello} hello\n`,
    `PUT /${bigChecksum} (streamed)`,
  ]);
  // The GET-with-body quirk of services-spec §0.4 is spoken by the codec on both sides.
  expect(sent).toContain(`GET /has ${JSON.stringify([VECTORS.hello, bigChecksum, ABSENT])}`);
  expect(sent).toContain(`GET /buffer-length ${JSON.stringify([VECTORS.hello, bigChecksum, ABSENT])}`);
  expect(sent).toContain(`GET /${bigChecksum} (streamed)`);
});

test("HttpBufferStore round trip: the server's refusals reach the client with their status and words", async () => {
  using dir = tempDir();
  const store = join(dir.path, "store");
  const { client: writer } = clientOn(store);
  await writer.put(VECTORS.hello, Buffer.from("hello\n"));

  // A read-only server answers a PUT with 405.
  const { client: reader } = clientOn(store, false);
  const refused = await reader.put(computeChecksum("other\n"), Buffer.from("other\n")).catch((error) => error);
  expect(refused).toBeInstanceOf(RemoteError);
  expect(refused.status).toBe(405);

  // A stored file that no longer matches its checksum: the server says so (400), on both kinds of GET.
  writeFileSync(join(store, VECTORS.hello.slice(0, 2), VECTORS.hello), "hellp\n");
  const corrupt = await reader.get(VECTORS.hello).catch((error) => error);
  expect(corrupt).toBeInstanceOf(RemoteError);
  expect(corrupt.status).toBe(400);
  expect(corrupt.message).toContain("File corruption");
  const corruptToFile = await reader.getToFile(VECTORS.hello, join(dir.path, "out")).catch((error) => error);
  expect(corruptToFile.status).toBe(400);
});
