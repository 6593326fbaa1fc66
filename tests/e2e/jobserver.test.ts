/** End-to-end: `seamless jobserver` from the compiled binary, with a real hashserver. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpBufferStore } from "../../lib/buffers/http-store.ts";
import { JobserverClient, TransformationCanceledError } from "../../lib/clients/jobserver.ts";
import { RemoteError } from "../../lib/errors.ts";
import { httpRequest } from "../../lib/wire/http-client.ts";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { Database } from "bun:sqlite";
import { bashTransformation, checksumOfText } from "../jobserver-helpers.ts";
import { bootServer, type BootedServer } from "../server-helpers.ts";

const dir = tempDir("seamless-e2e-jobserver-");
const env = scrubbedEnv(join(dir.path, "cache"));
let hashserver: BootedServer;
let jobserver: BootedServer;
let store: HttpBufferStore;
let client: JobserverClient;

beforeAll(async () => {
  mkdirSync(join(dir.path, "buffers"));
  hashserver = await bootServer("hashserver", ["hashserver", "buffers", "--writable"], dir.path, env);
  const parameters = { buffer: [{ readonly: false, url: hashserver.url }], database: [] };
  jobserver = await bootServer("jobserver", ["jobserver", "--workers", "2"], dir.path, { ...env, JOBSERVER_MARK: "on-the-jobserver" }, { parameters, meta: { service: "jobserver" } });
  store = new HttpBufferStore(hashserver.url);
  client = new JobserverClient(jobserver.url);
});
afterAll(async () => {
  await jobserver?.stop();
  await hashserver?.stop();
  store?.close();
  dir[Symbol.dispose]();
});

describe("seamless jobserver with a hashserver from its status-file parameters", () => {
  test("GET / and /healthcheck answer; the status file keeps its fields and says running", async () => {
    await client.healthcheck();
    const root = await httpRequest(new URL(jobserver.url), "/", { method: "GET" });
    expect([root.status, root.body.toString()]).toEqual([200, "Seamless jobserver is running"]);
    const status = JSON.parse(await Bun.file(join(dir.path, "jobserver.status.json")).text());
    expect(status).toMatchObject({ status: "running", meta: { service: "jobserver" }, port: jobserver.port });
  });

  test("a transformation runs on a worker; its result is on the hashserver before the answer", async () => {
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const result = await client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false });
    expect(result.checksum).toBe("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    expect(result.runtime?.memory_peak_bytes).toBeGreaterThan(0);
    expect(result.runtime?.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Buffer.from((await store.get(result.checksum))!).toString()).toBe("hello\n");
  });

  test("a client without a record field gets the bare checksum", async () => {
    const { dict, tf } = await bashTransformation(store, "echo bare");
    const answer = await httpRequest(new URL(jobserver.url), "/run-transformation", { method: "GET", body: JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false }) });
    expect([answer.status, answer.body.toString()]).toEqual([200, checksumOfText("bare\n")]);
  });

  test("a job whose input buffer is missing on the hashserver fails with a message naming the checksum", async () => {
    const missing = "cd".repeat(32);
    const { dict } = await bashTransformation(store, "cat x");
    dict.x = ["bytes", null, missing];
    dict.__format__ = { x: { filesystem: { optional: true, mode: "file" } } };
    const { transformationBufferOf } = await import("../../lib/transformation/dict.ts");
    const tf = transformationBufferOf(dict).checksum;
    const error = await client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false }).catch((e) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.status).toBe(500);
    expect(error.message).toContain(missing);
  });

  test("concurrent identical requests run the command once", async () => {
    const marker = join(dir.path, "ran-once");
    writeFileSync(marker, "");
    const { dict, tf } = await bashTransformation(store, `echo x >> ${marker}; sleep 0.3; echo once`);
    const request = { transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false };
    const results = await Promise.all([1, 2, 3, 4].map(() => client.runTransformation(request)));
    for (const result of results) expect(result.checksum).toBe(checksumOfText("once\n"));
    expect(await Bun.file(marker).text()).toBe("x\n");
  });

  test("a transformation writing 100 MB to stderr does not deadlock", async () => {
    const { dict, tf } = await bashTransformation(store, "head -c 100000000 /dev/zero | tr '\\0' e >&2; echo loud");
    const result = await client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false });
    expect(result.checksum).toBe(checksumOfText("loud\n"));
  }, 60_000);

  test("a client that aborts cancels the job (it was the only member) and nothing is answered as a result", async () => {
    const { dict, tf } = await bashTransformation(store, "sleep 1000");
    const controller = new AbortController();
    const running = client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false }, controller.signal);
    while ((await client.transformationStatus(tf)) !== "running") await Bun.sleep(10);
    controller.abort();
    expect(await running.catch((e) => e)).toBeInstanceOf(TransformationCanceledError);
    expect(await client.transformationStatus(tf)).toBe("canceled");
  });

  test("a hard cancel answers every waiting client with the canceled text", async () => {
    const { dict, tf } = await bashTransformation(store, "sleep 1000; echo never");
    const request = { transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false };
    const waiting = [client.runTransformation(request), client.runTransformation(request)];
    while ((await client.transformationStatus(tf)) !== "running") await Bun.sleep(10);
    expect(await client.cancelTransformation(tf)).toEqual({ canceled: true, status: "canceled" });
    for (const outcome of await Promise.all(waiting.map((p) => p.catch((e) => e)))) expect(outcome).toBeInstanceOf(TransformationCanceledError);
  });
});

describe("seamless run and run-transformation at level 3 (SEAMLESS_JOBSERVER)", () => {
  const level3 = () => ({ ...env, SEAMLESS_JOBSERVER: jobserver.url, SEAMLESS_HASHSERVER: hashserver.url });

  test("seamless run executes on the jobserver and writes the result and its execution record to the result cache", async () => {
    using work = tempDir();
    const result = await runSeamless(["run", "echo $JOBSERVER_MARK"], { cwd: work.path, env: level3() });
    expect(result.stderr).toBe("");
    expect([result.exitCode, result.stdout]).toEqual([0, "on-the-jobserver\n"]);
    const db = new Database(join(dir.path, "cache", "__TOPLEVEL__", "seamless.db"), { readonly: true });
    try {
      const row = db.query(`SELECT "result" FROM "transformation"`).all() as { result: string }[];
      expect(row.map((r) => r.result)).toContain(checksumOfText("on-the-jobserver\n"));
      const records = (db.query(`SELECT "metadata" FROM "meta_data"`).all() as { metadata: string }[]).map((r) => JSON.parse(r.metadata));
      const record = records.find((r) => r.result_checksum === checksumOfText("on-the-jobserver\n"));
      expect(record).toMatchObject({ execution_mode: "remote", remote_target: "jobserver" });
      expect(record.memory_peak_bytes).toBeGreaterThan(0);
    } finally {
      db.close();
    }
    // Answered from the result cache the second time: the jobserver is not needed.
    const again = await runSeamless(["run", "echo $JOBSERVER_MARK"], { cwd: work.path, env: { ...level3(), SEAMLESS_JOBSERVER: "http://127.0.0.1:9" } });
    expect([again.exitCode, again.stdout]).toEqual([0, "on-the-jobserver\n"]);
  });

  test("result targets are placed exactly as in a local run", async () => {
    using work = tempDir();
    writeFileSync(join(work.path, "in.txt"), "a\nb\nc\n");
    const result = await runSeamless(["run", "head -2 in.txt > out.txt"], { cwd: work.path, env: level3() });
    expect(result.exitCode).toBe(0);
    expect(await Bun.file(join(work.path, "out.txt")).text()).toBe("a\nb\n");
    expect(await Bun.file(join(work.path, "out.txt.CHECKSUM")).text()).toBe(`${checksumOfText("a\nb\n")}\n`);
  });

  test("a failing command fails with the jobserver's error text and nothing is cached", async () => {
    using work = tempDir();
    const result = await runSeamless(["run", "echo broken >&2; exit 7"], { cwd: work.path, env: level3() });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Error: Return code 7");
    expect(result.stderr).toContain("broken");
  });

  test("seamless run-transformation replays a job on the jobserver", async () => {
    using work = tempDir();
    const dry = await runSeamless(["run", "--dry", "--upload", "-j", "job", "echo replayed"], { cwd: work.path, env: level3() });
    expect(dry.exitCode).toBe(0);
    const result = await runSeamless(["run-transformation", "job/transformation.json.CHECKSUM"], { cwd: work.path, env: level3() });
    expect(result.stderr).toBe("");
    expect([result.exitCode, result.stdout]).toEqual([0, `${checksumOfText("replayed\n")}\n`]);
  });

  test("Ctrl-C cancels the job on the jobserver and exits 130", async () => {
    using work = tempDir();
    const child = Bun.spawn([BINARY, "run", "sleep 1000; echo ctrl-c"], { cwd: work.path, env: level3(), stdout: "pipe", stderr: "pipe" });
    const { tf } = await bashTransformation(store, "sleep 1000; echo ctrl-c");
    while ((await client.transformationStatus(tf)) !== "running") await Bun.sleep(20);
    child.kill("SIGINT");
    expect(await child.exited).toBe(130);
    expect(await new Response(child.stderr).text()).toContain(`Canceled transformation ${tf}`);
    expect(await client.transformationStatus(tf)).toBe("canceled");
  });

  test("seamless cancel cancels the transformation on the jobserver", async () => {
    using work = tempDir();
    const { dict, tf } = await bashTransformation(store, "sleep 1000; echo cancel-cli");
    const waiting = client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false }).catch((e) => e);
    while ((await client.transformationStatus(tf)) !== "running") await Bun.sleep(20);
    const result = await runSeamless(["cancel", tf], { cwd: work.path, env: level3() });
    expect(result).toMatchObject({ exitCode: 0, stdout: "process: not-running\njobserver: canceled\n" });
    expect(await waiting).toBeInstanceOf(TransformationCanceledError);
    const again = await runSeamless(["cancel", tf], { cwd: work.path, env: level3() });
    expect(again).toMatchObject({ exitCode: 2, stdout: "process: not-running\njobserver: not-running\n" });
  });
});
