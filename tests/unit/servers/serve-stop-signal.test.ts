import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { serveService } from "../../../lib/servers/serve.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

describe("serveService() and process-wide handlers", () => {
  test("serveService() stops when its signal is aborted", async () => {
    const controller = new AbortController();
    const server = await serveService(async () => ({ status: 200, body: "ok" }), { host: "127.0.0.1", port: { port: 0 }, log: SILENT_LOG, signal: controller.signal });
    expect(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()).toBe("ok");
    controller.abort();
    await server.stopped;
    expect(await fetch(`http://127.0.0.1:${server.port}/`).then(() => "answered", () => "refused")).toBe("refused");
  });

  test("no file of lib/ installs a process-wide listener or calls process.exit", () => {
    const root = resolve(import.meta.dir, "../../../lib");
    const offenders: string[] = [];
    for (const name of readdirSync(root, { recursive: true }) as string[]) {
      if (!name.endsWith(".ts")) continue;
      const text = readFileSync(join(root, name), "utf8");
      if (/\bprocess\.(on|once|addListener|prependListener)\(|\bprocess\.exit\(/.test(text)) offenders.push(name);
    }
    expect(offenders).toEqual([]);
  });
});
