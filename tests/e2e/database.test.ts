/** End-to-end: `seamless database` as a real server (port 0, status file), and `seamless run` sharing results through it. */
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";

const started: Subprocess[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) {
    child.kill();
    await child.exited;
  }
});

/** Starts a server command and waits for its status file to say running; returns the URL. */
async function startServer(args: string[], cwd: string, env: Record<string, string>): Promise<{ url: string; child: Subprocess; status: Record<string, unknown> }> {
  const statusFile = join(cwd, `status-${started.length}-${Date.now()}.json`);
  writeFileSync(statusFile, JSON.stringify({ workdir: cwd, status: "starting" }));
  const child = Bun.spawn([BINARY, ...args, "--port", "0", "--status-file", statusFile], { cwd, env, stdout: "pipe", stderr: "pipe" });
  started.push(child);
  let status: Record<string, unknown> = {};
  for (let i = 0; i < 200 && status.status !== "running" && status.status !== "failed"; i++) {
    await Bun.sleep(50);
    status = JSON.parse(readFileSync(statusFile, "utf8"));
  }
  expect(status.status).toBe("running");
  return { url: `http://127.0.0.1:${status.port}`, child, status };
}

/** A GET or PUT with a JSON body (fetch refuses GET bodies: services-spec §0.4). */
async function exchange(url: string, method: "GET" | "PUT", body: unknown): Promise<{ status: number; body: string }> {
  const { httpRequest } = await import("../../lib/wire/http-client.ts");
  const answer = await httpRequest(new URL(url), "/", { method, body: JSON.stringify(body) });
  return { status: answer.status, body: answer.body.toString("utf8") };
}

describe("seamless database (real server)", () => {
  test("boots on port 0, writes the status file, answers the protocol; one writable server per file", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const { url, status } = await startServer(["database", "seamless.db", "--writable"], dir.path, env);
    expect(status.workdir).toBe(dir.path);
    expect(await exchange(url, "GET", { type: "protocol" })).toEqual({ status: 200, body: '["seamless", "database", "2.2"]' });
    expect(await exchange(url, "PUT", { type: "transformation", checksum: "1".repeat(64), value: "2".repeat(64) })).toEqual({ status: 200, body: "OK" });

    const second = await runSeamless(["database", "seamless.db", "--writable", "--port", "0"], { cwd: dir.path, env });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain("is already served by another writable server");

    const reader = await startServer(["database", "seamless.db"], dir.path, env);
    expect(await exchange(reader.url, "GET", { type: "transformation", checksum: "1".repeat(64) })).toEqual({ status: 200, body: "2".repeat(64) });
    expect(await exchange(reader.url, "PUT", { type: "transformation", checksum: "1".repeat(64), value: "3".repeat(64) })).toEqual({ status: 405, body: "ERROR: Database server is read-only" });
  }, 30_000);

  test("a file that is not SQLite is refused, left untouched, and the status file says failed", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "notes.db"), "not a database\n");
    const statusFile = join(dir.path, "status.json");
    writeFileSync(statusFile, "{}");
    const result = await runSeamless(["database", "notes.db", "--writable", "--status-file", statusFile], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`seamless database: Cannot open database "${join(dir.path, "notes.db")}": not an SQLite file (left untouched)\n`);
    expect(readFileSync(join(dir.path, "notes.db"), "utf8")).toBe("not a database\n");
    expect(readFileSync(statusFile, "utf8")).toBe('{"status": "failed"}\n');
    const missing = await runSeamless(["database", "missing.db"], { cwd: dir.path, env });
    expect([missing.exitCode, existsSync(join(dir.path, "missing.db"))]).toEqual([1, false]);
    expect(missing.stderr).toContain("must exist when --writable is not set");
  });

  test("--timeout: the server stops by itself after S seconds without requests (exit 0)", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const { url, child } = await startServer(["database", "seamless.db", "--writable", "--timeout", "1"], dir.path, env);
    expect(await exchange(url, "GET", { type: "protocol" })).toMatchObject({ status: 200 });
    expect(await child.exited).toBe(0);
  }, 30_000);

  test("--help, and bad flags are usage errors", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const help = await runSeamless(["database", "--help"], { cwd: dir.path, env });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--max-body SIZE");
    expect((await runSeamless(["database", "x.db", "--port", "1", "--port-range", "2", "3"], { cwd: dir.path, env })).exitCode).toBe(2);
    expect((await runSeamless(["database", "x.db", "--timeout", "0"], { cwd: dir.path, env })).exitCode).toBe(2);
  });
});

describe("seamless run with SEAMLESS_DATABASE and SEAMLESS_HASHSERVER", () => {
  test("a result computed with one cache directory is a cache hit with another", async () => {
    using dir = tempDir();
    const serverEnv = scrubbedEnv(join(dir.path, "server-cache"));
    mkdirSync(join(dir.path, "buffers"));
    const database = await startServer(["database", "shared.db", "--writable"], dir.path, serverEnv);
    const hashserver = await startServer(["hashserver", "buffers", "--writable"], dir.path, serverEnv);
    const remote = { SEAMLESS_DATABASE: database.url, SEAMLESS_HASHSERVER: hashserver.url };
    const first = await runSeamless(["run", "date +%s%N"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache-a"), remote) });
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/^\d+\n$/);
    const second = await runSeamless(["run", "date +%s%N"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache-b"), remote) });
    expect([second.exitCode, second.stdout]).toEqual([0, first.stdout]);
    // The same servers named by the remote-client JSON of Python Seamless (services-spec §6.5).
    const clients = JSON.stringify({ database: [{ url: database.url, readonly: false }], buffer: [{ url: hashserver.url, readonly: false }] });
    // SEAMLESS_CACHE would win over it (services-spec §7.3), so the cache directory comes from XDG_CACHE_HOME.
    const remoteEnv = scrubbedEnv("", { SEAMLESS_REMOTE_CLIENTS: clients, XDG_CACHE_HOME: join(dir.path, "cache-d") });
    delete remoteEnv.SEAMLESS_CACHE;
    const third = await runSeamless(["run", "date +%s%N"], { cwd: dir.path, env: remoteEnv });
    expect([third.exitCode, third.stdout]).toEqual([0, first.stdout]);
    // The result and its execution record live in the served file, not in either cache directory.
    const db = new Database(join(dir.path, "shared.db"), { readonly: true });
    const row = db.query(`SELECT checksum, result, metadata FROM meta_data`).get() as { checksum: string; result: string; metadata: string };
    db.close();
    expect(JSON.parse(row.metadata)).toMatchObject({ tf_checksum: row.checksum, result_checksum: row.result, execution_mode: "process" });
    expect(existsSync(join(dir.path, "cache-a", "__TOPLEVEL__", "seamless.db"))).toBe(false);
    // run-transformation with a third cache directory: inputs from the hashserver, result recorded in the database.
    const ran = await runSeamless(["run", "--upload", "--dry", "echo hello"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache-a"), remote) });
    expect(ran.stdout).toBe(`${VECTORS.tfEchoHello}\n`);
    const viaJob = await runSeamless(["run-transformation", VECTORS.tfEchoHello], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache-c"), remote) });
    expect([viaJob.exitCode, viaJob.stdout]).toEqual([0, `${VECTORS.hello}\n`]);
    expect(await exchange(database.url, "GET", { type: "transformation", checksum: VECTORS.tfEchoHello })).toEqual({ status: 200, body: VECTORS.hello });
  }, 60_000);

  test("a database server that dies mid-request: 5 attempts, then one clear line and exit 1", async () => {
    using dir = tempDir();
    let requests = 0;
    // Accepts each request and drops the connection before answering, as a killed server would.
    // Health checks (sent beside a request while the server is not known healthy) are not counted.
    const dying = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket, data) {
          if (!Buffer.from(data).toString("latin1").startsWith("GET /healthcheck")) requests++;
          socket.terminate();
        },
      },
    });
    try {
      const env = scrubbedEnv(join(dir.path, "cache"), { SEAMLESS_DATABASE: `http://127.0.0.1:${dying.port}` });
      const result = await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^seamless run: Cannot look up transformation "${VECTORS.tfEchoHello}": database server http://127\\.0\\.0\\.1:${dying.port}: .+ \\(5 attempts\\)\\n$`));
      expect(requests).toBe(5);
      expect(result.stdout).toBe("");
    } finally {
      dying.stop(true);
    }
  }, 30_000);
});
