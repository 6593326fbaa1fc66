import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { serveService } from "../../../lib/servers/serve.ts";
import type { ServiceResponse } from "../../../lib/servers/http.ts";
import { tempDir } from "../../helpers.ts";
import { createMemoryLog } from "../../../lib/log.ts";

/** Serves one file with `verifyWhileSending`, fetches it, returns what arrived or the error. */
async function fetchVerified(path: string, size: number, claimed: string): Promise<{ bytes?: Uint8Array; error?: unknown }> {
  const { log } = createMemoryLog();
  const response: ServiceResponse = { status: 200, body: { filePath: path, size, verifyWhileSending: claimed } };
  const server = await serveService(async () => response, { host: "127.0.0.1", port: { port: 0 }, log });
  try {
    const answer = await fetch(`http://127.0.0.1:${server.port}/x`);
    return { bytes: new Uint8Array(await answer.arrayBuffer()) };
  } catch (error) {
    return { error };
  } finally {
    await server.stop();
  }
}

describe("serveService() file bodies verified while sending", () => {
  // 10 MiB: three send chunks, so the held-back last chunk is exercised.
  const content = new Uint8Array(10 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);

  test("a matching file arrives whole", async () => {
    using dir = tempDir();
    const path = join(dir.path, "f");
    writeFileSync(path, content);
    const { bytes, error } = await fetchVerified(path, content.byteLength, computeChecksum(content));
    expect(error).toBeUndefined();
    expect(computeChecksum(bytes!)).toBe(computeChecksum(content));
  });

  test("a file that does not match is cut short: the client never gets a complete response", async () => {
    using dir = tempDir();
    const path = join(dir.path, "f");
    writeFileSync(path, content);
    const { bytes, error } = await fetchVerified(path, content.byteLength, computeChecksum("something else"));
    if (error === undefined) expect(bytes!.byteLength).toBeLessThan(content.byteLength);
    else expect(String(error)).toMatch(/./);
  });
});

describe("serveService() bounds a silent request body", () => {
  test("a body that stops arriving is cut after bodyIdleTimeoutMs; a handler that computes long before answering is not", async () => {
    // (bun test's default 5 s is enough: the cut comes after 0.3 s)
    const { log } = createMemoryLog();
    const seen: string[] = [];
    const server = await serveService(async (request) => {
      if (request.path === "/slow-answer") {
        await Bun.sleep(800); // longer than the body timeout, after the body was read
        return { status: 200, body: "late" };
      }
      try {
        for await (const _ of request.body) {
        }
        seen.push("whole");
      } catch {
        seen.push("cut");
      }
      return { status: 200, body: "" };
    }, { host: "127.0.0.1", port: { port: 0 }, log, bodyIdleTimeoutMs: 300 });
    try {
      const { connect } = await import("node:net");
      const socket = connect(server.port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.resume(); // the answer is read (and dropped), so that the close is seen
      const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
      const started = Date.now();
      socket.write("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"); // then silence
      const closedAt = await Promise.race([closed, Bun.sleep(3_000).then(() => null)]);
      expect(closedAt).not.toBeNull();
      expect(closedAt! - started).toBeLessThan(5_000);
      expect(seen).toEqual(["cut"]);
      const answer = await fetch(`http://127.0.0.1:${server.port}/slow-answer`, { method: "PUT", body: "x" });
      expect([answer.status, await answer.text()]).toEqual([200, "late"]);
    } finally {
      await server.stop();
    }
  });
});
