import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { defaultJobSpec, LocalExecutor, Scheduler, SqliteJobStore, type JobSpec } from "../../../lib/queue/mod.ts";
import { createQueueHandler } from "../../../lib/servers/queue.ts";
import { makeServiceRequest, withErrorHandling, type ServiceResponse } from "../../../lib/servers/http.ts";
import { MAX_QUEUE_BODY_BYTES, type DecodedJobRequest } from "../../../lib/wire/queue.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function handlerWith(options: { token?: string | null; paused?: boolean } = {}) {
  const dir = tempDir();
  const store = SqliteJobStore.open({ path: ":memory:" });
  const scheduler = await Scheduler.start({ store, executor: new LocalExecutor({ graceMs: 100 }), logDir: join(dir.path, "logs"), defaultParallel: 2 });
  if (options.paused) scheduler.pause();
  cleanups.push(() => dir[Symbol.dispose]());
  cleanups.push(async () => (await scheduler.stop(), store.close()));
  const prepareJob = async (request: DecodedJobRequest): Promise<JobSpec> => ({
    ...defaultJobSpec(request.command), ...request, workdir: request.workdir ?? dir.path, plain: true,
  });
  const handler = withErrorHandling(createQueueHandler({
    scheduler, prepareJob, token: options.token ?? null, onStop: () => {},
    status: () => ({ pid: process.pid, version: "test", mode: scheduler.mode, counts: scheduler.countByState(), groups: scheduler.groups(), database: ":memory:" }),
  }), SILENT_LOG);
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const [pathname, query] = path.split("?");
    const request = makeServiceRequest(method, pathname!, body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body), headers);
    return handler({ ...request, query: query ?? "" });
  };
  return { call, scheduler };
}

const bodyOf = (response: ServiceResponse) => JSON.parse(Buffer.from(response.body as Uint8Array | string).toString());

test("POST /jobs answers 201 with the job; GET /jobs/{id} answers the same object", async () => {
  const { call } = await handlerWith({ paused: true });
  const created = await call("POST", "/jobs", { command: "echo hi", priority: 3, label: "x" });
  expect(created.status).toBe(201);
  const job = bodyOf(created);
  expect(job).toMatchObject({ id: 1, state: "queued", command: "echo hi", priority: 3, retries: 0, timeout: null, after: [], group: "default", label: "x" });
  const fetched = await call("GET", "/jobs/1");
  expect(fetched.status).toBe(200);
  expect(bodyOf(fetched)).toEqual(job);
});

test("POST /jobs with a list submits a batch in order", async () => {
  const { call } = await handlerWith({ paused: true });
  await call("POST", "/jobs", { command: "a" });
  const created = await call("POST", "/jobs", [{ command: "b", after: [1] }, { command: "c", after_fail: [1] }]);
  expect(created.status).toBe(201);
  expect(bodyOf(created).map((job: any) => [job.id, job.command, job.after, job.after_fail])).toEqual([[2, "b", [1], []], [3, "c", [], [1]]]);
  // A job may only depend on jobs that exist, so no dependency cycle can be formed.
  const self = await call("POST", "/jobs", { command: "d", after: [4] });
  expect(self.status).toBe(400);
});

test("POST /jobs refuses bad input with 400 naming the field", async () => {
  const { call } = await handlerWith({ paused: true });
  const cases: [unknown, string][] = [
    ["{not json", "body"],
    [{ command: "true", colour: "red" }, "colour"],
    [{ command: 42 }, "command"],
    [{ command: "   " }, "command"],
    [{}, "command"],
    [{ command: "true", priority: -1 }, "priority"],
    [{ command: "true", timeout: -5 }, "timeout"],
    [{ command: "true", retries: "3" }, "retries"],
    [{ command: "true", after: [99] }, "after"],
    [{ command: "true", group: "a b" }, "group"],
    [{ command: "true", workdir: "relative" }, "workdir"],
  ];
  for (const [body, field] of cases) {
    const answer = await call("POST", "/jobs", body);
    expect(answer.status).toBe(400);
    const error = bodyOf(answer);
    if (field !== "body") {
      expect(error.field).toBe(field);
      expect(error.error).toContain(field);
    } else expect(error.error).toContain("Malformed JSON");
  }
});

test("GET/DELETE of an unknown job answer 404; cancel of an ended job 409", async () => {
  const { call, scheduler } = await handlerWith();
  expect((await call("GET", "/jobs/77")).status).toBe(404);
  expect((await call("DELETE", "/jobs/77")).status).toBe(404);
  expect((await call("GET", "/jobs/abc")).status).toBe(404);
  const { id } = bodyOf(await call("POST", "/jobs", { command: "true" }));
  await scheduler.waitFor(id);
  expect((await call("DELETE", `/jobs/${id}`)).status).toBe(409);
});

test("DELETE /jobs/{id} cancels a queued job; GET /jobs pages and filters", async () => {
  const { call } = await handlerWith({ paused: true });
  for (let i = 0; i < 5; i++) await call("POST", "/jobs", { command: `echo ${i}`, label: i % 2 ? "odd" : "even" });
  const canceled = await call("DELETE", "/jobs/2");
  expect(bodyOf(canceled).state).toBe("canceled");
  const page = bodyOf(await call("GET", "/jobs?limit=2"));
  expect(page.jobs.map((j: any) => j.id)).toEqual([5, 4]);
  expect(page.next).toBe(4);
  expect(bodyOf(await call("GET", "/jobs?limit=2&before=4")).jobs.map((j: any) => j.id)).toEqual([3, 2]);
  expect(bodyOf(await call("GET", "/jobs?state=canceled")).jobs.map((j: any) => j.id)).toEqual([2]);
  expect(bodyOf(await call("GET", "/jobs?label=odd")).jobs.map((j: any) => j.id)).toEqual([4, 2]);
  expect((await call("GET", "/jobs?state=bogus")).status).toBe(400);
});

test("GET /jobs/{id}/logs: 404 before the job started, the bytes after, and a followed stream", async () => {
  const { call, scheduler } = await handlerWith({ paused: true });
  const { id } = bodyOf(await call("POST", "/jobs", { command: "echo one; sleep 0.3; echo two" }));
  const early = await call("GET", `/jobs/${id}/logs`);
  expect(early.status).toBe(404);
  expect(bodyOf(early).error).toContain("has no logs");
  scheduler.resume();
  const followed = await call("GET", `/jobs/${id}/logs?follow=1&from=0`);
  expect(followed.status).toBe(200);
  const chunks: Uint8Array[] = [];
  for await (const chunk of (followed.body as { stream: AsyncIterable<Uint8Array> }).stream) chunks.push(chunk);
  expect(Buffer.concat(chunks).toString()).toBe("one\ntwo\n");
  const from4 = await call("GET", `/jobs/${id}/logs?from=4`);
  expect(Buffer.from(from4.body as Uint8Array).toString()).toBe("two\n");
  expect(from4.headers!["x-next-offset"]).toBe("8");
});

test("a bearer token is required when the daemon has one", async () => {
  const { call } = await handlerWith({ token: "s3cret-token-0123456789" });
  expect((await call("GET", "/jobs")).status).toBe(401);
  expect((await call("GET", "/jobs", undefined, { authorization: "Bearer wrong" })).status).toBe(401);
  expect((await call("GET", "/jobs", undefined, { authorization: "Bearer s3cret-token-0123456789" })).status).toBe(200);
  expect((await call("GET", "/healthcheck")).status).toBe(200);
});

test("POST /wait answers when the jobs have ended", async () => {
  const { call } = await handlerWith();
  await call("POST", "/jobs", [{ command: "true" }, { command: "exit 4" }]);
  const answer = bodyOf(await call("POST", "/wait", { ids: [1, 2], timeout: 30 }));
  expect(answer.done).toBe(true);
  expect(answer.jobs.map((j: any) => [j.state, j.exit_code])).toEqual([["succeeded", 0], ["failed", 4]]);
  expect((await call("POST", "/wait", { ids: [1], colour: 1 })).status).toBe(400);
});

test("an oversize body is refused with 413 as JSON, like every queue error", async () => {
  const { call } = await handlerWith({ paused: true });
  const response = await call("POST", "/jobs", { command: "x".repeat(MAX_QUEUE_BODY_BYTES + 1) });
  expect(response.status).toBe(413);
  expect(response.headers?.["content-type"]).toStartWith("application/json");
  expect(bodyOf(response).error).toStartWith("Request body larger than");
});
