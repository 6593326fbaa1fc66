/** The one error path of every server (issue 19 §0): servers/http.ts answers, serve.ts applies it. */
import { describe, expect, test } from "bun:test";
import { answerError, HttpError, makeServiceRequest, withErrorHandling } from "../../../lib/servers/http.ts";
import { serveService } from "../../../lib/servers/serve.ts";
import { SILENT_LOG, createMemoryLog } from "../../../lib/log.ts";
import { matchBufferGet, matchHashserverPut } from "../../../lib/wire/hashserver.ts";
import { matchGroupRoute, matchJobRoute } from "../../../lib/wire/queue.ts";

describe("answerError()", () => {
  test("answerError() turns an HttpError into its own answer and logs nothing", () => {
    const { log, lines: logged } = createMemoryLog();
    const answer = answerError(new HttpError(409, "taken", "application/json"), makeServiceRequest("PUT", "/x"), log);
    expect(answer).toEqual({ status: 409, headers: { "content-type": "application/json" }, body: "taken" });
    expect(logged).toEqual([]);
  });

  test("answerError() answers an unexpected error 500 and logs it once with the request", () => {
    const { log, lines: logged } = createMemoryLog();
    const answer = answerError(new Error("boom"), makeServiceRequest("GET", "/abc"), log);
    expect(answer).toEqual({ status: 500, headers: { "content-type": "text/plain; charset=utf-8" }, body: "Internal Server Error" });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toStartWith("Internal error on GET /abc: Error: boom");
  });

  test("answerError() answers 503 with retry-after when file descriptors ran out", () => {
    const { log, lines: logged } = createMemoryLog();
    const error = Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
    const answer = answerError(error, makeServiceRequest("GET", "/abc"), log);
    expect(answer.status).toBe(503);
    expect(answer.headers?.["retry-after"]).toBe("1");
    expect(answer.body).toBe("Service Unavailable: out of file descriptors");
    expect(logged).toHaveLength(1);
  });

  test("withErrorHandling() passes answers through untouched", async () => {
    const handler = withErrorHandling(async () => ({ status: 202, body: "" }), {
      ...SILENT_LOG,
      error: () => {
        throw new Error("no log expected");
      },
    });
    expect(await handler(makeServiceRequest("GET", "/"))).toEqual({ status: 202, body: "" });
  });
});

describe("serveService() applies the one error path", () => {
  test("serveService() answers a throwing service 500 and logs once; an HttpError is its answer", async () => {
    const { log, lines: logged } = createMemoryLog();
    const server = await serveService(async (request) => {
      if (request.path === "/known") throw new HttpError(418, "a teapot");
      throw new TypeError("unexpected");
    }, { host: "127.0.0.1", port: { port: 0 }, log: log });
    try {
      const unexpected = await fetch(`http://127.0.0.1:${server.port}/boom`);
      expect(unexpected.status).toBe(500);
      expect(await unexpected.text()).toBe("Internal Server Error");
      const known = await fetch(`http://127.0.0.1:${server.port}/known`);
      expect(known.status).toBe(418);
      expect(await known.text()).toBe("a teapot");
    } finally {
      await server.stop();
    }
    expect(logged.filter((line) => line.startsWith("Internal error"))).toHaveLength(1);
    expect(logged[0]).toStartWith("Internal error on GET /boom: TypeError: unexpected");
  });
});

describe("serveService() a failure while sending", () => {
  test("serveService() answers 500 with a whole body when a file body cannot be opened (no stale content-length)", async () => {
    const { log, lines: logged } = createMemoryLog();
    const server = await serveService(async () => ({ status: 200, headers: { "content-type": "application/octet-stream" }, body: { filePath: "/nonexistent/seamless-test", size: 1000 } }), {
      host: "127.0.0.1", port: { port: 0 }, log: log,
    });
    try {
      const answer = await fetch(`http://127.0.0.1:${server.port}/x`, { signal: AbortSignal.timeout(20_000) });
      expect(answer.status).toBe(500);
      expect(answer.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await answer.text()).toBe("Internal Server Error");
    } finally {
      await server.stop();
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("ENOENT");
  });
});

describe("routes parsed in lib/wire", () => {
  test("matchHashserverPut() tells buffers, promises and the fixed routes apart", () => {
    expect(matchHashserverPut("/promise/ab")).toEqual({ kind: "promise", checksumText: "ab" });
    expect(matchHashserverPut("/ab")).toEqual({ kind: "buffer", checksumText: "ab" });
    expect(matchHashserverPut("//ab/")).toEqual({ kind: "buffer", checksumText: "ab" });
    for (const path of ["/has", "/buffer-length", "/healthcheck", "/a/b", "/", "/promise/a/b"]) expect(matchHashserverPut(path)).toBeNull();
  });

  test("matchBufferGet() takes one segment only", () => {
    expect(matchBufferGet("/ab")).toBe("ab");
    expect(matchBufferGet("/has/")).toBe("has");
    expect(matchBufferGet("/a/b")).toBeNull();
    expect(matchBufferGet("/")).toBeNull();
  });

  test("matchJobRoute() and matchGroupRoute() read /jobs/ID[/logs] and /groups/NAME", () => {
    expect(matchJobRoute("/jobs/12")).toEqual({ idText: "12", logs: false });
    expect(matchJobRoute("/jobs/12/logs")).toEqual({ idText: "12", logs: true });
    expect(matchJobRoute("/jobs/12/other")).toBeNull();
    expect(matchGroupRoute("/groups/a%20b")).toBe("a%20b");
    expect(matchGroupRoute("/groups/a/b")).toBeNull();
  });
});
