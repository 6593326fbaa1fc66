/** End-to-end: a record-mode `seamless jobserver` against a real database with and without the required bucket probes (services-spec §4.4 step 3, §4.5). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { HttpBufferStore } from "../../lib/buffers/http-store.ts";
import { computeChecksum } from "../../lib/checksum/sha256.ts";
import { DatabaseClient } from "../../lib/clients/database.ts";
import { JobserverClient } from "../../lib/clients/jobserver.ts";
import { RemoteError } from "../../lib/errors.ts";
import { readBootId } from "../../lib/record/host-facts.ts";
import { httpRequest } from "../../lib/wire/http-client.ts";
import { scrubbedEnv, tempDir } from "../helpers.ts";
import { bashTransformation, checksumOfText } from "../jobserver-helpers.ts";
import { bootServer, type BootedServer } from "../server-helpers.ts";

const dir = tempDir("seamless-e2e-jobserver-record-");
const env = scrubbedEnv(join(dir.path, "cache"));
// A stand-in Python environment: its seamless-run-transformation names the interpreter whose prefix labels the environment bucket.
const prefix = join(dir.path, "pyenv");
const sitePackages = join(prefix, "lib", "python3.12", "site-packages");
const runner = join(prefix, "bin", "seamless-run-transformation");
let hashserver: BootedServer;
let database: BootedServer;
let jobserver: BootedServer;
let store: HttpBufferStore;
let db: DatabaseClient;
let client: JobserverClient;

beforeAll(async () => {
  mkdirSync(join(dir.path, "buffers"));
  mkdirSync(join(prefix, "bin"), { recursive: true });
  mkdirSync(sitePackages, { recursive: true });
  writeFileSync(runner, `#!${join(prefix, "bin", "python3.12")}\n`, { mode: 0o755 });
  hashserver = await bootServer("hashserver", ["hashserver", "buffers", "--writable"], dir.path, env);
  database = await bootServer("database", ["database", "seamless.db", "--writable"], dir.path, env);
  const parameters = { buffer: [{ readonly: false, url: hashserver.url }], database: [{ readonly: false, url: database.url }], record: true };
  jobserver = await bootServer("jobserver", ["jobserver", "--python-runner", runner], dir.path, env, { parameters });
  store = new HttpBufferStore(hashserver.url);
  db = new DatabaseClient(database.url);
  client = new JobserverClient(jobserver.url);
});
afterAll(async () => {
  await jobserver?.stop();
  await database?.stop();
  await hashserver?.stop();
  store?.close();
  dir[Symbol.dispose]();
});

async function runRaw(command: string, record: boolean): Promise<{ status: number; body: string }> {
  const { dict, tf } = await bashTransformation(store, command);
  const body = JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record });
  const answer = await httpRequest(new URL(jobserver.url), "/run-transformation", { method: "GET", body, headers: { "content-type": "application/json" } });
  return { status: answer.status, body: answer.body.toString("utf8") };
}

/** Stores a probe payload on the hashserver and its probe in the database, as seamless-probe does. */
async function putProbe(bucketKind: "node" | "environment" | "node_env", label: string, freshnessTokens: Record<string, unknown>): Promise<string> {
  const payload = Buffer.from(`${JSON.stringify({ bucket_kind: bucketKind, label })}\n`);
  const checksum = computeChecksum(payload);
  await store.put(checksum, payload);
  await db.setBucketProbe({ bucket_kind: bucketKind, label, bucket_checksum: checksum, captured_at: "2026-12-06T08:00:00.000000Z", freshness_tokens: freshnessTokens as never });
  return checksum;
}

describe("seamless jobserver in record mode", () => {
  const environmentLabel = `python:${prefix}`;

  test("without bucket probes in its database a transformation is refused with a 500 naming the missing buckets", async () => {
    const answer = await runRaw("echo unprobed", true);
    expect(answer).toEqual({ status: 500, body: `Record mode requires bucket probes for: node='${hostname()}', environment='${environmentLabel}'` });
    expect((await runRaw("echo unprobed", false)).status).toBe(409);
  });

  test("with fresh probes it runs, and answers the probe context, job validation and its process facts", async () => {
    const bootId = readBootId();
    const nodeTokens = { hostname: hostname(), ...(bootId ? { boot_id: bootId } : {}) };
    const environmentTokens = { sys_prefix: prefix, purelib_mtime_ns: statSync(sitePackages, { bigint: true }).mtimeNs };
    const nodeChecksum = await putProbe("node", hostname(), nodeTokens);
    const environmentChecksum = await putProbe("environment", environmentLabel, environmentTokens);
    const pairChecksum = await putProbe("node_env", `${nodeChecksum}:${environmentChecksum}`, { node: nodeTokens, environment: environmentTokens });

    const answer = await runRaw("echo recorded", true);
    expect(answer.status).toBe(200);
    const parsed = JSON.parse(answer.body);
    expect(parsed.result_checksum).toBe(checksumOfText("recorded\n"));
    expect(Buffer.from((await store.get(parsed.result_checksum))!).toString()).toBe("recorded\n");
    expect(parsed.probe_context.required_bucket_labels).toEqual({ node: hostname(), environment: environmentLabel, node_env: `${nodeChecksum}:${environmentChecksum}` });
    expect(parsed.probe_context.required_bucket_checksums).toEqual({ node: nodeChecksum, environment: environmentChecksum, node_env: pairChecksum });
    // The nanosecond mtime goes back out exactly as Python's int, not rounded to a float.
    expect(answer.body).toContain(`"purelib_mtime_ns": ${environmentTokens.purelib_mtime_ns}}`);
    expect(parsed.compilation_context).toBeNull();
    expect(parsed.job_validation.job_contract_violations).toEqual([]);
    expect(parsed.record_runtime).toMatchObject({ hostname: hostname(), pid: jobserver.process.pid, worker_execution_index: 1, retry_count: 0 });
    expect(parsed.record_runtime.process_create_time_epoch).toBeGreaterThan(0);
    expect(parsed.record_runtime.memory_peak_bytes).toBeGreaterThan(0);
    expect(JSON.parse((await runRaw("echo recorded again", true)).body).record_runtime.worker_execution_index).toBe(2);

    // The Python environment changes: its probe (and the pair's) is stale until seamless-probe runs again.
    utimesSync(sitePackages, new Date(2020, 0, 1), new Date(2020, 0, 1));
    const stale = await client.runTransformation({ ...(await requestOf("echo stale")), record: true }).catch((e) => e);
    expect(stale).toBeInstanceOf(RemoteError);
    expect(stale.status).toBe(500);
    expect(stale.message).toContain(`Record mode detected stale bucket probes for: environment='${environmentLabel}', node_env='${nodeChecksum}:${environmentChecksum}'`);
  });
});

async function requestOf(command: string) {
  const { dict, tf } = await bashTransformation(store, command);
  return { transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false };
}
