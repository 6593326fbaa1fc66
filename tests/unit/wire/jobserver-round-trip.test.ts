/** The jobserver codec round trip: JobserverClient → wire/jobserver → createJobserverHandler → back, no socket. */
import { afterAll, expect, test } from "bun:test";
import { SILENT_LOG } from "../../../lib/log.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { JobserverClient, TransformationCanceledError } from "../../../lib/clients/jobserver.ts";
import { RemoteError } from "../../../lib/errors.ts";
import { withErrorHandling } from "../../../lib/servers/http.ts";
import { handlerTransport } from "../../../lib/servers/in-process.ts";
import { TransformationRuns, createJobserverHandler } from "../../../lib/servers/jobserver.ts";
import type { HttpTransport } from "../../../lib/wire/transport.ts";
import { tempDir } from "../../helpers.ts";
import { FakeExecutor, bashTransformation, checksumOfText } from "../../jobserver-helpers.ts";

const opened: TransformationRuns[] = [];
afterAll(async () => {
  for (const runs of opened) await runs.close();
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await Bun.sleep(1);
}

const RESULT = checksumOfText("hello\n");

/** A jobserver handler over a {@link FakeExecutor}, a client that reaches it in-process, and the requests it sent. */
async function setup() {
  const dir = tempDir("seamless-jobserver-");
  const store = new BufferDir(dir.path, { layout: "prefix" });
  store.ensureExists();
  const executor = new FakeExecutor();
  const runs = await TransformationRuns.start({ runner: executor, parallel: 4 });
  opened.push(runs);
  const inner = handlerTransport(withErrorHandling(createJobserverHandler({ runs, results: null, record: null, log: SILENT_LOG }), SILENT_LOG));
  const sent: string[] = [];
  const transport: HttpTransport = { ...inner, request: (path, options) => (sent.push(`${options.method} ${path} ${options.body ?? ""}`.trimEnd()), inner.request(path, options)) };
  return { dir, store, executor, sent, client: new JobserverClient("http://in-process", { transport }) };
}

test("JobserverClient round trip through createJobserverHandler: health, run (both answer forms), status, cancel, softcancel", async () => {
  const { dir, store, executor, sent, client } = await setup();
  using _ = dir;

  await client.healthcheck();

  // A run answered in the structured form, with the worker's measurements.
  const { dict, tf } = await bashTransformation(store, "echo hello");
  expect(await client.transformationStatus(tf)).toBe("not-running");
  const running = client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false });
  await until(() => executor.jobs.length === 1);
  expect(executor.jobs[0]!.job.tfChecksum).toBe(tf);
  expect(await client.transformationStatus(tf)).toBe("running");
  executor.jobs[0]!.finish(RESULT);
  expect(await running).toEqual({
    checksum: RESULT,
    runtime: { started_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:00:02Z", wall_time_seconds: 2.5, cpu_user_seconds: 0.25, cpu_system_seconds: 0.125, memory_peak_bytes: 4096, gpu_memory_peak_bytes: null },
  });
  expect(await client.transformationStatus(tf)).toBe("done");

  // Without `record` (a client older than v0.2) the answer is the bare checksum.
  const bare = await bashTransformation(store, "echo bare");
  const bareRun = client.runTransformation({ transformation_dict: bare.dict, tf_checksum: bare.tf, tf_dunder: {}, scratch: false });
  await until(() => executor.jobs.length === 2);
  executor.jobs[1]!.finish(RESULT);
  expect(await bareRun).toEqual({ checksum: RESULT, runtime: undefined });

  // Two members: one soft-cancels (the run goes on), then a hard cancel ends it for both.
  const shared = await bashTransformation(store, "sleep 1000");
  const request = { transformation_dict: shared.dict, tf_checksum: shared.tf, tf_dunder: {}, scratch: false, record: false };
  const first = client.runTransformation({ ...request, member_id: "first" }).catch((error) => error);
  const second = client.runTransformation({ ...request, member_id: "second" }).catch((error) => error);
  await until(() => executor.jobs.length === 3);
  expect(await client.softcancelTransformation(shared.tf, "first")).toEqual({ canceled: false, status: "running" });
  expect(executor.jobs[2]!.signal.aborted).toBe(false);
  expect(await client.cancelTransformation(shared.tf)).toEqual({ canceled: true, status: "canceled" });
  expect(executor.jobs[2]!.signal.aborted).toBe(true);
  expect(await first).toBeInstanceOf(TransformationCanceledError);
  expect(await second).toBeInstanceOf(TransformationCanceledError);
  expect(await client.transformationStatus(shared.tf)).toBe("canceled");
  expect(await client.cancelTransformation(shared.tf)).toEqual({ canceled: false, status: "canceled" });

  // A failing transformation: 500 with the worker's text.
  const failing = await bashTransformation(store, "exit 3");
  const failed = client.runTransformation({ transformation_dict: failing.dict, tf_checksum: failing.tf, tf_dunder: {}, scratch: false, record: false }).catch((error) => error);
  await until(() => executor.jobs.length === 4);
  executor.jobs[3]!.fail("Bash transformation exited with code 3");
  const error = await failed;
  expect(error).toBeInstanceOf(RemoteError);
  expect(error.status).toBe(500);
  expect(error.message).toContain("Bash transformation exited with code 3");

  expect(sent.slice(0, 2)).toEqual(["GET /healthcheck", `GET /transformation-status/${tf}`]);
  expect(sent[2]).toStartWith('GET /run-transformation {"transformation_dict":');
  expect(sent).toContain(`POST /softcancel-transformation/${shared.tf} {"member_id":"first"}`);
  expect(sent).toContain(`POST /cancel-transformation/${shared.tf}`);
});

test("JobserverClient round trip: aborting the caller's signal soft-cancels its membership, which ends a run it alone waited for", async () => {
  const { dir, store, executor, sent, client } = await setup();
  using _ = dir;
  const { dict, tf } = await bashTransformation(store, "sleep 1000");
  const controller = new AbortController();
  const run = client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false, member_id: "me" }, controller.signal).catch((error) => error);
  await until(() => executor.jobs.length === 1);
  controller.abort();
  expect(await run).toBeInstanceOf(TransformationCanceledError);
  expect(executor.jobs[0]!.signal.aborted).toBe(true);
  expect(sent.at(-1)).toBe(`POST /softcancel-transformation/${tf} {"member_id":"me"}`);
  expect(await client.transformationStatus(tf)).toBe("canceled");
});
