/**
 * A remote cache hit's round trips: clients send their health check beside their first request
 * (not before it), and a cached result on a remote store is fetched by one GET (no `/has` first).
 */
import { describe, expect, test } from "bun:test";
import { HttpBufferStore } from "../../../lib/buffers/http-store.ts";
import type { BufferStore } from "../../../lib/buffers/store.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
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
import { lookupCachedResult } from "../../../lib/execute/compute.ts";
import type { ResultCache } from "../../../lib/cache/store.ts";
import type { TransformationDict } from "../../../lib/transformation/dict.ts";

const TF = "4".repeat(64);
const RES = "5".repeat(64);

describe("health checks go beside the first request", () => {
  test("DatabaseClient sends /healthcheck and the request before either is answered", async () => {
    const sent: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const transport: DatabaseTransport = async (_method, path) => {
      sent.push(path);
      await gate;
      return path === "/healthcheck" ? { status: 200, body: Buffer.from("OK") } : { status: 200, body: Buffer.from(RES) };
    };
    const client = new DatabaseClient("http://x:1", { transport: transportOf(transport) });
    const answer = client.getResult(TF);
    await Bun.sleep(0);
    expect(sent).toEqual(["/healthcheck", "/"]);
    release();
    expect(await answer).toBe(RES);
    expect(await client.getResult(TF)).toBe(RES);
    expect(sent).toEqual(["/healthcheck", "/", "/"]);
  });

  test("DatabaseClient: a failed health check is what is reported, even when the request was answered", async () => {
    const transport: DatabaseTransport = async (_method, path) => (path === "/healthcheck" ? { status: 500, body: Buffer.from("down") } : { status: 200, body: Buffer.from(RES) });
    await expect(new DatabaseClient("http://x:1", { transport: transportOf(transport), attempts: 2 }).getResult(TF)).rejects.toThrow("health check answered 500");
  });

  test("HttpBufferStore sends /healthcheck and /has together; an unreachable server is one 'Cannot reach' line", async () => {
    // Each request is held until both have arrived (or 2 s have passed): sent one after the
    // other, the second would find the first already answered.
    const arrivals: { path: string; answeredBefore: number }[] = [];
    let answered = 0;
    let bothArrived!: () => void;
    const both = new Promise<void>((resolve) => (bothArrived = resolve));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        arrivals.push({ path, answeredBefore: answered });
        if (arrivals.length === 2) bothArrived();
        await Promise.race([both, Bun.sleep(2000)]);
        answered++;
        return path === "/has" ? new Response("[false]") : new Response("OK");
      },
    });
    try {
      const store = new HttpBufferStore(`http://127.0.0.1:${server.port}`);
      expect(await store.has([RES])).toEqual([false]);
      expect(arrivals.map((a) => a.path).sort()).toEqual(["/has", "/healthcheck"]);
      expect(arrivals.map((a) => a.answeredBefore)).toEqual([0, 0]);
      store.close();
    } finally {
      server.stop(true);
    }
    await expect(new HttpBufferStore("http://127.0.0.1:9").has([RES])).rejects.toThrow("Cannot reach buffer server http://127.0.0.1:9: connection refused");
  });
});

describe("lookupCachedResult() on a remote store", () => {
  test("fetches the result with one GET and hands the bytes on; a missing buffer is a miss", async () => {
    const bytes = new TextEncoder().encode("3 small.txt\n");
    const result = computeChecksum(bytes);
    const calls: string[] = [];
    const store = {
      location: "http://remote",
      has: async () => (calls.push("has"), [true]),
      get: async (checksum: string) => (calls.push("get"), checksum === result ? bytes : null),
    } as unknown as BufferStore;
    const cache = { getResult: async () => result } as unknown as ResultCache;
    const dict = { __language__: "bash", __output__: ["result", "bytes"] } as unknown as TransformationDict;
    const hit = await lookupCachedResult(dict, TF, cache, store);
    expect(calls).toEqual(["get"]);
    expect(hit).toEqual({ checksum: result, fromCache: true, buffer: bytes });
    const missing = { getResult: async () => RES } as unknown as ResultCache;
    expect(await lookupCachedResult(dict, TF, missing, store)).toBeNull();
  });
});
