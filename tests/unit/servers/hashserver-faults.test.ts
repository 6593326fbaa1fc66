/** The hashserver under hostile load (issue 17 item 7): bounded `/has` bodies, idle clock, EMFILE. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createHashserverHandler } from "../../../lib/servers/hashserver.ts";
import { makeServiceRequest, withErrorHandling } from "../../../lib/servers/http.ts";
import { MAX_CHECKSUM_LIST_BODY_BYTES } from "../../../lib/wire/hashserver.ts";
import { BINARY, scrubbedEnv, tempDir } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

/** Starts `seamless hashserver` (under `ulimit -n` when given) and waits for its status file. */
async function startServer(dir: string, args: string[], openFiles?: number) {
  mkdirSync(join(dir, "buffers"), { recursive: true });
  const statusFile = join(dir, "status.json");
  writeFileSync(statusFile, JSON.stringify({ status: "starting" }));
  const command = [BINARY, "hashserver", join(dir, "buffers"), "--writable", "--port-range", "20000", "40000", "--status-file", statusFile, ...args];
  const server = Bun.spawn(openFiles ? ["bash", "-c", `ulimit -n ${openFiles}; exec "$@"`, "bash", ...command] : command, { env: scrubbedEnv(join(dir, "cache")), stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 500; i++) {
    try {
      const status = JSON.parse(readFileSync(statusFile, "utf8"));
      if (status.status === "running") return { server, url: `http://127.0.0.1:${status.port}`, port: status.port as number };
    } catch {}
    await Bun.sleep(20);
  }
  server.kill();
  throw new Error("hashserver did not start");
}

describe("hashserver faults (issue 17 item 7)", () => {
  test("/has refuses a body over the limit with 413, counting streamed bytes", async () => {
    using dir = tempDir();
    const handle = withErrorHandling(createHashserverHandler({ directory: dir.path, writable: false, layout: "prefix" }), SILENT_LOG);
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const request = makeServiceRequest("GET", "/has");
    request.body = (async function* () {
      while (sent <= MAX_CHECKSUM_LIST_BODY_BYTES) {
        sent += chunk.byteLength;
        yield chunk;
      }
    })();
    const response = await handle(request);
    expect(response.status).toBe(413);
    const declared = await handle(makeServiceRequest("GET", "/has", "[]", { "content-length": String(MAX_CHECKSUM_LIST_BODY_BYTES + 1) }));
    expect(declared.status).toBe(413);
  });

  test("the idle timeout does not cut a slow PUT in flight", async () => {
    using dir = tempDir();
    const { server, port } = await startServer(dir.path, ["--timeout", "1"]);
    try {
      const body = Buffer.from("slow upload\n".repeat(10));
      const checksum = new Bun.CryptoHasher("sha256").update(body).digest("hex");
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let text = "";
        socket.on("data", (data) => (text += data.toString()));
        socket.on("close", () => resolve(text));
        socket.on("error", reject);
        socket.write(`PUT /${checksum} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
        let offset = 0;
        const timer = setInterval(() => {
          // 12 bytes every 300 ms: ~3 s in all, well past the 1 s idle timeout.
          socket.write(body.subarray(offset, offset + 12));
          offset += 12;
          if (offset >= body.length) clearInterval(timer);
        }, 300);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 20[01]/);
      expect(readFileSync(join(dir.path, "buffers", checksum.slice(0, 2), checksum), "utf8")).toBe(body.toString());
      expect(await server.exited).toBe(0); // and it still stops once idle
    } finally {
      server.kill();
    }
  }, 30_000);

  test("out of file descriptors, every request is answered or its connection closed, never left silent", async () => {
    using dir = tempDir();
    const { server, url } = await startServer(dir.path, [], 200);
    try {
      const big = Buffer.alloc(1024 * 1024, 7);
      const checksum = new Bun.CryptoHasher("sha256").update(big).digest("hex");
      expect((await fetch(`${url}/${checksum}`, { method: "PUT", body: big })).status).toBeLessThan(300);
      const outcomes = await Promise.all(Array.from({ length: 400 }, async () => {
        let headers = false;
        try {
          // Far longer than any answer takes: a request still without an answer then is one left silent.
          const response = await fetch(`${url}/${checksum}`, { signal: AbortSignal.timeout(45_000) });
          headers = true;
          await response.arrayBuffer();
          return String(response.status);
        } catch (error) {
          if ((error as Error).name === "TimeoutError") return headers ? "slow body" : "silence";
          return "closed";
        }
      }));
      expect(outcomes.filter((outcome) => outcome === "silence")).toEqual([]);
      expect(outcomes.filter((outcome) => !["200", "500", "503", "closed", "slow body"].includes(outcome))).toEqual([]);
    } finally {
      server.kill();
      await server.exited;
    }
  }, 60_000);
});
