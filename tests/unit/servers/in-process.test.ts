/** handlerTransport() and handlerFetch(): a handler reached in-process keeps what a socket would do. */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import type { ServiceRequest, ServiceResponse } from "../../../lib/servers/http.ts";
import { handlerFetch, handlerTransport } from "../../../lib/servers/in-process.ts";
import { tempDir } from "../../helpers.ts";

test("handlerTransport() hands over method, path, query, lowercased headers and the body; answers read whole", async () => {
  let seen: { method: string; path: string; query?: string; headers: Record<string, string | undefined>; body: string } | null = null;
  const transport = handlerTransport(async (request) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of request.body) chunks.push(chunk);
    seen = { method: request.method, path: request.path, query: request.query, headers: request.headers, body: Buffer.concat(chunks).toString() };
    return { status: 201, body: { stream: (async function* () { yield Buffer.from("a"); yield Buffer.from("b"); })() } };
  });
  const answer = await transport.request("/has?x=1", { method: "GET", body: '["c"]', headers: { "Content-Type": "application/json" } });
  expect(answer.status).toBe(201);
  expect(answer.body.toString()).toBe("ab");
  expect(seen!).toEqual({ method: "GET", path: "/has", query: "x=1", headers: { "content-type": "application/json", "content-length": "5" }, body: '["c"]' });
});

test("handlerTransport() cuts an exchange at its timeout or its signal, and the handler sees its request's signal aborted", async () => {
  const signals: AbortSignal[] = [];
  const transport = handlerTransport((request) => {
    signals.push(request.signal!);
    return new Promise<ServiceResponse>(() => {});
  });
  await expect(transport.request("/slow", { method: "GET", timeoutMs: 20 })).rejects.toThrow("timed out after 20 ms");
  expect(signals[0]!.aborted).toBe(true);
  const controller = new AbortController();
  const pending = transport.request("/slow", { method: "GET", signal: controller.signal });
  controller.abort();
  await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  expect(signals[1]!.aborted).toBe(true);
});

test("handlerTransport().streamGet() streams a file body, and cuts one that fails verification while it is sent", async () => {
  using dir = tempDir();
  const path = join(dir.path, "buffer");
  const bytes = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => i % 253);
  writeFileSync(path, bytes);
  let claimed = computeChecksum(bytes);
  const transport = handlerTransport(async (request: ServiceRequest) =>
    request.path === "/missing" ? { status: 404, body: "Not found" } : { status: 200, body: { filePath: path, size: bytes.byteLength, verifyWhileSending: claimed } });
  const chunks: Uint8Array[] = [];
  expect(await transport.streamGet("/buffer", (chunk) => chunks.push(chunk))).toEqual({ kind: "done", status: 200, bytes: bytes.byteLength });
  expect(chunks.length).toBe(3);
  expect(computeChecksum(Buffer.concat(chunks))).toBe(claimed);
  expect(await transport.streamGet("/missing", () => {})).toEqual({ kind: "status", status: 404, body: "Not found" });
  claimed = "0".repeat(64);
  const received: Uint8Array[] = [];
  await expect(transport.streamGet("/buffer", (chunk) => received.push(chunk))).rejects.toThrow("the connection was cut before the answer was complete");
  // Only whole chunks before the last one went out: never the complete wrong bytes.
  expect(Buffer.concat(received).byteLength).toBe(2 * 1024 * 1024);
});

test("handlerFetch() answers a Request-shaped call with a Response, streamed bodies kept streamed", async () => {
  const fetch = handlerFetch(async (request) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of request.body) chunks.push(chunk);
    return { status: 200, headers: { "x-seen": `${request.method} ${request.path} ${request.query} ${request.headers.authorization} ${Buffer.concat(chunks)}` }, body: { stream: (async function* () { yield Buffer.from("one\n"); yield Buffer.from("two\n"); })() } };
  });
  const response = await fetch("http://anywhere:1/jobs/3/logs?from=2", { method: "POST", headers: { Authorization: "Bearer t" }, body: '{"a":1}' });
  expect(response.status).toBe(200);
  expect(response.headers.get("x-seen")).toBe('POST /jobs/3/logs from=2 Bearer t {"a":1}');
  expect(await response.text()).toBe("one\ntwo\n");
});
