import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createHashserverHandler } from "../../../lib/servers/hashserver.ts";
import { makeServiceRequest, withErrorHandling, type ServiceResponse } from "../../../lib/servers/http.ts";
import { VECTORS } from "../../fixtures/spec-vectors.ts";
import { tempDir } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const ABSENT = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"; // sha256("x")

function bodyText(response: ServiceResponse): string {
  const body = response.body;
  if (body === undefined) return "";
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return readFileSync((body as { filePath: string }).filePath, "utf8");
}

function handlerFor(directory: string, writable = true, layout: "flat" | "prefix" = "prefix") {
  return withErrorHandling(createHashserverHandler({ directory, writable, layout }), SILENT_LOG);
}

describe("hashserver handler", () => {
  test("GET /healthcheck answers OK", async () => {
    using dir = tempDir();
    const response = await handlerFor(dir.path)(makeServiceRequest("GET", "/healthcheck"));
    expect([response.status, bodyText(response)]).toEqual([200, "OK"]);
  });

  test("PUT stores (200 OK), repeats get 201, GET returns the bytes, prefix layout on disk", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    const first = await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"));
    expect([first.status, bodyText(first)]).toEqual([200, "OK"]);
    const second = await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"));
    expect([second.status, bodyText(second)]).toEqual([201, ""]);
    expect(existsSync(join(dir.path, VECTORS.hello.slice(0, 2), VECTORS.hello))).toBe(true);
    expect(statSync(join(dir.path, VECTORS.hello.slice(0, 2), VECTORS.hello)).mode & 0o777).toBe(0o600);
    const get = await handle(makeServiceRequest("GET", `/${VECTORS.hello.toUpperCase()}`));
    expect([get.status, bodyText(get)]).toEqual([200, "hello\n"]);
  });

  test("PUT whose body does not match its checksum is refused with 400 and stores nothing", async () => {
    using dir = tempDir();
    const response = await handlerFor(dir.path, true, "flat")(makeServiceRequest("PUT", `/${ABSENT}`, "y"));
    expect([response.status, bodyText(response)]).toEqual([400, "Incorrect checksum"]);
    expect(existsSync(join(dir.path, ABSENT))).toBe(false);
  });

  test("a buffer corrupted on disk gives 400 File corruption, never wrong bytes", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, VECTORS.hello), "HELLO\n");
    const response = await handlerFor(dir.path, false, "flat")(makeServiceRequest("GET", `/${VECTORS.hello}`));
    expect(response.status).toBe(400);
    expect(JSON.parse(bodyText(response)).message).toMatch(/^File corruption: file at path .* does not have the correct sha-256 checksum\.$/);
  });

  test("a large buffer is verified while it is sent, not before (its response says so)", async () => {
    using dir = tempDir();
    const path = join(dir.path, ABSENT);
    writeFileSync(path, "");
    truncateSync(path, 64 * 1024 * 1024); // sparse: its content does not match, which only the send would find
    const response = await handlerFor(dir.path, false, "flat")(makeServiceRequest("GET", `/${ABSENT}`));
    expect([response.status, response.body]).toEqual([200, { filePath: path, size: 64 * 1024 * 1024, verifyWhileSending: ABSENT }]);
  });

  test("GET of a missing buffer is 404 Not found", async () => {
    using dir = tempDir();
    const response = await handlerFor(dir.path)(makeServiceRequest("GET", `/${ABSENT}`));
    expect([response.status, bodyText(response)]).toEqual([404, "Not found"]);
  });

  test("invalid checksums get the pydantic-style 400 body", async () => {
    using dir = tempDir();
    const response = await handlerFor(dir.path)(makeServiceRequest("GET", "/abc"));
    expect(response.status).toBe(400);
    expect(JSON.parse(bodyText(response))).toEqual({
      message: "Invalid data",
      exception: { type: "value_error", loc: ["path", "checksum"], msg: "Value error, Wrong length", input: "abc" },
    });
  });

  test("/has answers booleans, promises count as present; /buffer-length gives sizes and true", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"));
    const json = { "content-type": "application/json" };
    const list = JSON.stringify([VECTORS.hello, ABSENT]);
    expect(bodyText(await handle(makeServiceRequest("GET", "/has", list, json)))).toBe("[true,false]");
    expect(bodyText(await handle(makeServiceRequest("GET", "/buffer-length", list, json)))).toBe("[6,0]");
    const promise = await handle(makeServiceRequest("PUT", `/promise/${ABSENT}`));
    expect([promise.status, bodyText(promise)]).toEqual([202, `{"checksum":"${ABSENT}","expires_in":600.0}`]);
    expect(bodyText(await handle(makeServiceRequest("GET", "/has", list, json)))).toBe("[true,true]");
    expect(bodyText(await handle(makeServiceRequest("GET", "/buffer-length", list, json)))).toBe("[6,true]");
  });

  test("/has validation: missing body, not a list, bad item", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    const json = { "content-type": "application/json" };
    expect(JSON.parse(bodyText(await handle(makeServiceRequest("GET", "/has", "", json)))).exception.type).toBe("missing");
    expect(JSON.parse(bodyText(await handle(makeServiceRequest("GET", "/has", "{}", json)))).exception.type).toBe("list_type");
    const bad = await handle(makeServiceRequest("GET", "/has", '["abc"]', json));
    expect(JSON.parse(bodyText(bad)).exception.loc).toEqual(["body", 0]);
  });

  test("a GET waits for a promised buffer and returns it once the PUT lands", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    await handle(makeServiceRequest("PUT", `/promise/${VECTORS.hello}`));
    const pending = handle(makeServiceRequest("GET", `/${VECTORS.hello}`));
    await Bun.sleep(50);
    await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"));
    expect(bodyText(await pending)).toBe("hello\n");
  });

  test("while a PUT streams: /has says true, a GET waits for the bytes, a second PUT is received and stored (Python: 202, bytes dropped)", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowBody = (async function* () {
      yield new TextEncoder().encode("hel");
      await gate;
      yield new TextEncoder().encode("lo\n");
    })();
    const first = handle({ method: "PUT", path: `/${VECTORS.hello}`, headers: {}, body: slowBody });
    await Bun.sleep(10);
    const has = await handle(makeServiceRequest("GET", "/has", JSON.stringify([VECTORS.hello]), { "content-type": "application/json" }));
    expect(bodyText(has)).toBe("[true]");
    const get = handle(makeServiceRequest("GET", `/${VECTORS.hello}`));
    const second = await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"));
    expect([second.status, bodyText(second)]).toEqual([200, "OK"]);
    expect(bodyText(await get)).toBe("hello\n");
    release();
    expect((await first).status).toBe(200);
  });

  test("a second PUT during a first that then fails: the buffer is stored all the same (services-spec §2.4.3 step 3 QUIRK)", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const failingBody = (async function* () {
      yield new TextEncoder().encode("hel");
      await gate;
      throw new Error("client went away");
    })();
    const first = handle({ method: "PUT", path: `/${VECTORS.hello}`, headers: {}, body: failingBody });
    await Bun.sleep(10);
    expect((await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"))).status).toBe(200);
    release();
    expect((await first).status).toBe(400);
    expect(bodyText(await handle(makeServiceRequest("GET", `/${VECTORS.hello}`)))).toBe("hello\n");
    expect(readdirSync(join(dir.path, VECTORS.hello.slice(0, 2)))).toEqual([VECTORS.hello]); // no temp file left
  });

  test("a read-only server refuses PUT with 405 and promises with 404", async () => {
    using dir = tempDir();
    const handle = handlerFor(dir.path, false);
    expect((await handle(makeServiceRequest("PUT", `/${VECTORS.hello}`, "hello\n"))).status).toBe(405);
    expect((await handle(makeServiceRequest("PUT", `/promise/${VECTORS.hello}`))).status).toBe(404);
  });

  test("extra read-only directories are searched", async () => {
    using main = tempDir();
    using extra = tempDir();
    mkdirSync(join(extra.path, VECTORS.hello.slice(0, 2)));
    writeFileSync(join(extra.path, ".HASHSERVER_PREFIX"), "1\n");
    writeFileSync(join(extra.path, VECTORS.hello.slice(0, 2), VECTORS.hello), "hello\n");
    const handle = withErrorHandling(createHashserverHandler({ directory: main.path, writable: false, layout: "flat", extraDirs: [extra.path] }), SILENT_LOG);
    expect(bodyText(await handle(makeServiceRequest("GET", `/${VECTORS.hello}`)))).toBe("hello\n");
  });
});
