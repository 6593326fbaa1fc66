import { afterAll, describe, expect, test } from "bun:test";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { makeServiceRequest, withErrorHandling, type ServiceRequest } from "../../../lib/servers/http.ts";
import { TransformationRuns, cachedResultLookup, createJobserverHandler, type JobserverResultCache } from "../../../lib/servers/jobserver.ts";
import type { JobserverRecordMode } from "../../../lib/record/jobserver-record.ts";
import { RecordBucketError } from "../../../lib/record/bucket-probes.ts";
import { RemoteError } from "../../../lib/errors.ts";
import { tempDir } from "../../helpers.ts";
import { FakeExecutor, bashTransformation } from "../../jobserver-helpers.ts";
import { createMemoryLog } from "../../../lib/log.ts";

const opened: TransformationRuns[] = [];
afterAll(async () => {
  for (const runs of opened) await runs.close();
});

async function setup(options: { results?: JobserverResultCache; record?: JobserverRecordMode } = {}) {
  const dir = tempDir("seamless-jobserver-");
  const store = new BufferDir(dir.path, { layout: "prefix" });
  store.ensureExists();
  const executor = new FakeExecutor();
  const { log, lines: logs } = createMemoryLog();
  const runs = await TransformationRuns.start({ runner: executor, parallel: 4, lookupCached: options.results ? cachedResultLookup(options.results, store) : undefined });
  opened.push(runs);
  const raw = createJobserverHandler({ runs, results: options.results ?? null, record: options.record ?? null, log });
  const handler = withErrorHandling(raw, log);
  const call = async (request: ServiceRequest) => {
    const response = await handler(request);
    return { status: response.status, body: String(response.body ?? ""), type: response.headers?.["content-type"] };
  };
  return { dir, store, executor, raw, call, logs };
}

const RESULT = computeChecksum(Buffer.from("hello\n"));

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await Bun.sleep(1);
}

describe("createJobserverHandler() plain endpoints (services-spec §4.2)", () => {
  test("GET / and GET /healthcheck answer as the Python jobserver", async () => {
    const { call, dir } = await setup();
    using _ = dir;
    expect(await call(makeServiceRequest("GET", "/"))).toEqual({ status: 200, body: "Seamless jobserver is running", type: "text/plain; charset=utf-8" });
    expect(await call(makeServiceRequest("GET", "/healthcheck"))).toEqual({ status: 200, body: "OK", type: "text/plain; charset=utf-8" });
    expect((await call(makeServiceRequest("GET", "/nothing"))).status).toBe(404);
  });
});

describe("createJobserverHandler() /run-transformation", () => {
  test("a client with record=false gets the structured form with the worker's measurements (§4.5, §4.8)", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.finish(RESULT);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.type).toBe("text/plain; charset=utf-8");
    expect(JSON.parse(response.body)).toEqual({
      result_checksum: RESULT,
      record_runtime: { started_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:00:02Z", wall_time_seconds: 2.5, cpu_user_seconds: 0.25, cpu_system_seconds: 0.125, memory_peak_bytes: 4096, gpu_memory_peak_bytes: null },
    });
  });

  test("a client without a record field (older than v0.2) gets the bare checksum", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.finish(RESULT);
    expect(await pending).toMatchObject({ status: 200, body: RESULT });
  });

  test("tf_dunder travels with the dict to the executor", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: { __meta__: { x: 1 } } })));
    await until(() => executor.jobs.length === 1);
    expect(executor.jobs[0]!.job.dict.__meta__).toEqual({ x: 1 });
    executor.jobs[0]!.finish(RESULT);
    await pending;
  });

  test("bad input: 400 Invalid JSON, 400 Invalid payload, 409 record mismatch, 413 oversize", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const invalidJson = await call(makeServiceRequest("GET", "/run-transformation", "{"));
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body).toStartWith("Invalid JSON: ");
    const noDict = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ tf_checksum: tf })));
    expect([noDict.status, noDict.body.startsWith("Invalid payload: ")]).toEqual([400, true]);
    const mismatch = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: true })));
    expect(mismatch.status).toBe(409);
    expect(mismatch.body).toContain("client requested record=True, but jobserver started with record=False");
    const tooLarge = await call(makeServiceRequest("GET", "/run-transformation", "x", { "content-length": String(100 * 1024 * 1024) }));
    expect(tooLarge.status).toBe(413);
    expect(executor.jobs.length).toBe(0);
  });

  test("a tf_checksum that does not match the dict is refused (Python does not check)", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict } = await bashTransformation(store, "echo hello");
    const { tf: other } = await bashTransformation(store, "echo other");
    const response = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: other })));
    expect(response.status).toBe(400);
    expect(response.body).toContain(`tf_checksum ${other} does not match the transformation dict`);
    expect(executor.jobs.length).toBe(0);
  });

  test("a failing transformation is 500 with the worker's error text", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "exit 1");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: false })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.fail("Bash transformer exception\nError: Return code 1");
    expect(await pending).toMatchObject({ status: 500, body: "Bash transformer exception\nError: Return code 1" });
  });

  test("identical requests in flight share one run; each gets the answer", async () => {
    const { call, dir, store, executor } = await setup();
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const body = JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: false });
    const answers = Promise.all([1, 2, 3].map(() => call(makeServiceRequest("GET", "/run-transformation", body))));
    await Bun.sleep(20);
    expect(executor.jobs.length).toBe(1);
    executor.jobs[0]!.finish(RESULT);
    for (const answer of await answers) expect(JSON.parse(answer.body).result_checksum).toBe(RESULT);
  });

  test("a result in the result cache whose buffer is stored is answered without running", async () => {
    const hits: string[] = [];
    const { call, dir, store, executor } = await setup({ results: { getResult: async (tf) => (hits.push(tf), RESULT) } });
    using _ = dir;
    await store.put(RESULT, Buffer.from("hello\n"));
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const response = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf })));
    expect(response).toMatchObject({ status: 200, body: RESULT });
    expect(hits).toEqual([tf]);
    expect(executor.jobs.length).toBe(0);
  });

  test("a cached result whose buffer is gone is computed again, and recorded", async () => {
    const recorded: string[][] = [];
    const results: JobserverResultCache = { getResult: async () => RESULT, recordResult: async (tf, result) => void recorded.push([tf, result]) };
    const { call, dir, store, executor } = await setup({ results });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.finish(RESULT);
    expect((await pending).body).toBe(RESULT);
    expect(recorded).toEqual([[tf, RESULT]]);
  });
});

describe("createJobserverHandler() cancellation and membership (services-spec §4.7)", () => {
  async function started(members: (string | undefined)[]) {
    const context = await setup();
    const { dict, tf } = await bashTransformation(context.store, "sleep 1000");
    const controllers = members.map(() => new AbortController());
    const answers = members.map((member, i) => {
      const request = makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: false, ...(member ? { member_id: member } : {}) }));
      request.signal = controllers[i]!.signal;
      return context.call(request);
    });
    await until(() => context.executor.jobs.length === 1);
    return { ...context, tf, answers, controllers };
  }

  test("status is running, then canceled after a hard cancel; every waiting request gets the canceled text", async () => {
    const { call, dir, tf, answers, executor } = await started(["a", "b"]);
    using _ = dir;
    expect((await call(makeServiceRequest("GET", `/transformation-status/${tf}`))).body).toBe('{"status": "running"}');
    expect((await call(makeServiceRequest("POST", `/cancel-transformation/${tf}`))).body).toBe('{"canceled": true, "status": "canceled"}');
    expect(executor.jobs[0]!.signal.aborted).toBe(true);
    for (const answer of await Promise.all(answers)) expect(answer).toMatchObject({ status: 200, body: "Transformation was canceled" });
    expect((await call(makeServiceRequest("GET", `/transformation-status/${tf}`))).body).toBe('{"status": "canceled"}');
    expect((await call(makeServiceRequest("POST", `/cancel-transformation/${tf}`))).body).toBe('{"canceled": false, "status": "canceled"}');
  });

  test("softcancel removes one member; the run goes on until the last member leaves", async () => {
    const { call, dir, tf, answers, executor } = await started(["a", "b"]);
    using _ = dir;
    const soft = (member: string) => call(makeServiceRequest("POST", `/softcancel-transformation/${tf}`, JSON.stringify({ member_id: member })));
    expect((await soft("a")).body).toBe('{"canceled": false, "status": "running"}');
    expect((await soft("unknown")).body).toBe('{"canceled": false, "status": "running"}');
    expect(executor.jobs[0]!.signal.aborted).toBe(false);
    expect((await soft("b")).body).toBe('{"canceled": true, "status": "canceled"}');
    expect(executor.jobs[0]!.signal.aborted).toBe(true);
    for (const answer of await Promise.all(answers)) expect(answer.body).toBe("Transformation was canceled");
  });

  test("softcancel without member_id is 400; a bad checksum in the path is 400 Invalid checksum", async () => {
    const { call, dir, tf, executor } = await started(["a"]);
    using _ = dir;
    expect(await call(makeServiceRequest("POST", `/softcancel-transformation/${tf}`, "{}"))).toMatchObject({ status: 400, body: "Missing member_id" });
    expect(await call(makeServiceRequest("GET", "/transformation-status/zz"))).toMatchObject({ status: 400, body: "Invalid checksum: zz" });
    executor.jobs[0]!.finish(RESULT);
  });

  test("a client that disconnects cancels the run only when it was the only member", async () => {
    const { dir, answers, controllers, executor } = await started([undefined, undefined]);
    using _ = dir;
    controllers[0]!.abort();
    await Bun.sleep(5);
    expect(executor.jobs[0]!.signal.aborted).toBe(false);
    controllers[1]!.abort();
    expect(executor.jobs[0]!.signal.aborted).toBe(true);
    for (const answer of await Promise.all(answers)) expect(answer.body).toBe("Transformation was canceled");
  });

  test("an unknown transformation is not-running and cannot be canceled", async () => {
    const { call, dir } = await setup();
    using _ = dir;
    const tf = "ab".repeat(32);
    expect((await call(makeServiceRequest("GET", `/transformation-status/${tf}`))).body).toBe('{"status": "not-running"}');
    expect((await call(makeServiceRequest("POST", `/cancel-transformation/${tf}`))).body).toBe('{"canceled": false, "status": "not-running"}');
  });
});

describe("createJobserverHandler() in record mode (services-spec §4.4 step 3, §4.5)", () => {
  const probeContext = {
    required_bucket_labels: { node: "node1", environment: "python:/opt/py", node_env: `${"aa".repeat(32)}:${"bb".repeat(32)}` },
    required_bucket_checksums: { node: "aa".repeat(32), environment: "bb".repeat(32), node_env: "cc".repeat(32) },
    live_tokens: { node: { hostname: "node1" }, environment: { sys_prefix: "/opt/py", purelib_mtime_ns: 1733475200123456789n }, node_env: {} },
    bucket_tokens: { node: { hostname: "node1" }, environment: { sys_prefix: "/opt/py", purelib_mtime_ns: 1733475200123456789n }, node_env: {} },
  };
  const recordMode = (missing: boolean): JobserverRecordMode & { checks: number } => {
    const mode = {
      checks: 0,
      checkBuckets: async () => {
        mode.checks++;
        if (missing) throw new RecordBucketError("Record mode requires bucket probes for: node='node1'");
        return probeContext;
      },
      jobValidation: () => ({ job_contract_violations: [], diagnostics: { compiled: false, checks: {} } }),
      processFacts: (startedAt: string) => ({ hostname: "node1", pid: 42, process_started_at: startedAt, process_create_time_epoch: 1733475200.5 }),
    };
    return mode as JobserverRecordMode & { checks: number };
  };

  test("a missing bucket probe is a 500 with the precondition's text, before anything runs", async () => {
    const { call, dir, store, executor } = await setup({ record: recordMode(true) });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const response = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: true })));
    expect([response.status, response.body]).toEqual([500, "Record mode requires bucket probes for: node='node1'"]);
    expect(executor.jobs.length).toBe(0);
  });

  test("a database that cannot be asked for the probes is a 500 that says so, before anything runs", async () => {
    const record = { ...recordMode(false), checkBuckets: async () => {
      throw new RemoteError("Cannot reach the database", "http://127.0.0.1:9");
    } } as unknown as JobserverRecordMode;
    const { call, dir, store, executor } = await setup({ record });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const response = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: true })));
    expect(response.status).toBe(500);
    expect(response.body).toStartWith("Record mode cannot read the bucket probes from the database: Cannot reach the database");
    expect(executor.jobs.length).toBe(0);
  });

  test("with fresh probes the answer adds probe_context, compilation_context, job_validation and the process facts", async () => {
    const record = recordMode(false);
    const { call, dir, store, executor } = await setup({ record });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: true })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.finish(RESULT);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.body).toContain('"purelib_mtime_ns": 1733475200123456789}');
    const answer = JSON.parse(response.body);
    expect(Object.keys(answer)).toEqual(["result_checksum", "record_runtime", "probe_context", "compilation_context", "job_validation"]);
    expect(answer.record_runtime).toMatchObject({ wall_time_seconds: 2.5, hostname: "node1", pid: 42, process_create_time_epoch: 1733475200.5, worker_execution_index: 1, retry_count: 0 });
    expect(answer.record_runtime.process_started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(answer.probe_context.required_bucket_checksums).toEqual(probeContext.required_bucket_checksums);
    expect(answer.compilation_context).toBeNull();
    expect(answer.job_validation).toEqual({ job_contract_violations: [], diagnostics: { compiled: false, checks: {} } });
    expect(record.checks).toBe(2); // before the run and for the answer, as Python
  });

  test("a record probe is exempt: no precondition, no record additions", async () => {
    const record = recordMode(true);
    const { call, dir, store, executor } = await setup({ record });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo probe");
    const pending = call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, tf_dunder: { __record_probe__: { mode: "capture" } }, record: true })));
    await until(() => executor.jobs.length === 1);
    executor.jobs[0]!.finish(RESULT);
    const answer = JSON.parse((await pending).body);
    expect(Object.keys(answer)).toEqual(["result_checksum", "record_runtime"]);
    expect(answer.record_runtime.worker_execution_index).toBeUndefined();
    expect(record.checks).toBe(0);
  });

  test("a client without record mode is refused by a record-mode jobserver with 409", async () => {
    const { call, dir, store, executor } = await setup({ record: recordMode(false) });
    using _ = dir;
    const { dict, tf } = await bashTransformation(store, "echo hello");
    const response = await call(makeServiceRequest("GET", "/run-transformation", JSON.stringify({ transformation_dict: dict, tf_checksum: tf, record: false })));
    expect(response.status).toBe(409);
    expect(response.body).toBe("Jobserver record mode mismatch: client requested record=False, but jobserver started with record=True. Restart the jobserver after changing record mode.");
    expect(executor.jobs.length).toBe(0);
  });
});
