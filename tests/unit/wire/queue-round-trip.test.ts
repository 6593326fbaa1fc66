/** The queue codec round trip: QueueClient → wire/queue → createQueueHandler → back, no socket. */
import { afterEach, expect, test } from "bun:test";
import { SILENT_LOG } from "../../../lib/log.ts";
import { join } from "node:path";
import { QueueClient } from "../../../lib/clients/queue.ts";
import { NotFoundError, RemoteError, SeamlessError } from "../../../lib/errors.ts";
import { defaultJobSpec, LocalExecutor, Scheduler, SqliteJobStore, type JobSpec } from "../../../lib/queue/mod.ts";
import { withErrorHandling } from "../../../lib/servers/http.ts";
import { handlerFetch } from "../../../lib/servers/in-process.ts";
import { createQueueHandler } from "../../../lib/servers/queue.ts";
import type { DecodedJobRequest } from "../../../lib/wire/queue.ts";
import type { FetchLike } from "../../../lib/wire/transport.ts";
import { tempDir } from "../../helpers.ts";

const TOKEN = "round-trip-token";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A daemon's handler over a paused scheduler, and clients that reach it in-process. */
async function daemon() {
  const dir = tempDir();
  cleanups.push(() => dir[Symbol.dispose]());
  const store = SqliteJobStore.open({ path: ":memory:" });
  const scheduler = await Scheduler.start({ store, executor: new LocalExecutor({ graceMs: 100 }), logDir: join(dir.path, "logs"), defaultParallel: 2 });
  scheduler.pause();
  cleanups.push(async () => (await scheduler.stop(), store.close()));
  const prepareJob = async (request: DecodedJobRequest): Promise<JobSpec> => ({ ...defaultJobSpec(request.command), ...request, workdir: request.workdir ?? dir.path, plain: true });
  let stopped = 0;
  const handler = withErrorHandling(createQueueHandler({
    scheduler, prepareJob, token: TOKEN, onStop: () => stopped++, followIntervalMs: 10,
    status: () => ({ pid: process.pid, version: "test", mode: scheduler.mode, counts: scheduler.countByState(), groups: scheduler.groups(), database: ":memory:" }),
  }), SILENT_LOG);
  const sent: string[] = [];
  const inner = handlerFetch(handler);
  const fetch: FetchLike = (url, init) => (sent.push(`${init.method} ${url} ${new Headers(init.headers).get("authorization") ?? ""}`.trimEnd()), inner(url, init));
  const client = new QueueClient({ url: "http://in-process", token: TOKEN }, { fetch });
  return { client, scheduler, sent, stopped: () => stopped, fetch };
}

test("QueueClient round trip through createQueueHandler: submit, batch, get, list, cancel, groups, pause, resume, wait, logs, clean, drain, stop", async () => {
  const { client, sent, stopped } = await daemon();

  const one = await client.submit({ command: "echo one", priority: 2, label: "first" });
  expect(one).toMatchObject({ id: 1, state: "queued", command: "echo one", priority: 2, label: "first", group: "default", after: [] });
  const batch = await client.submitBatch([{ command: "echo two" }, { command: "echo three", after: [1] }]);
  expect(batch.map((job) => [job.id, job.command, job.after])).toEqual([[2, "echo two", []], [3, "echo three", [1]]]);
  expect(await client.getJob(1)).toEqual(one);

  const page = await client.listJobs({ limit: 2 });
  expect(page.jobs.map((job) => job.id)).toEqual([3, 2]);
  expect(page.next).toBe(2);
  expect((await client.listJobs({ before: 2 })).jobs.map((job) => job.id)).toEqual([1]);
  expect((await client.listJobs({ label: "first" })).jobs.map((job) => job.id)).toEqual([1]);

  expect(await client.cancel(3)).toMatchObject({ id: 3, state: "canceled" });
  expect((await client.listJobs({ states: ["canceled"] })).jobs.map((job) => job.id)).toEqual([3]);

  expect(await client.setGroup("slow lane", 3)).toEqual({ name: "slow lane", parallel: 3, paused: false });
  const paused = await client.pause({ group: "slow lane" });
  expect(paused.groups.find((group) => group.name === "slow lane")).toMatchObject({ parallel: 3, paused: true });
  expect(paused.mode).toBe("paused");
  expect(paused.counts).toEqual({ queued: 2, canceled: 1 });

  const resumed = await client.resume({});
  expect(resumed.mode).toBe("running");
  const waited = await client.wait([1, 2], 30);
  expect(waited.done).toBe(true);
  expect(waited.jobs.map((job) => [job.id, job.state, job.exit_code])).toEqual([[1, "succeeded", 0], [2, "succeeded", 0]]);
  expect(await client.getJob(2, 5)).toMatchObject({ id: 2, state: "succeeded" });
  expect(await new Response(await client.logs(1)).text()).toBe("one\n");
  expect(await new Response(await client.logs(2, { from: 2 })).text()).toBe("o\n");

  // A followed log streams until the job ends.
  const slow = await client.submit({ command: "echo start; sleep 0.2; echo end" });
  expect(await new Response(await client.logs(slow.id, { follow: true })).text()).toBe("start\nend\n");
  const ended = await client.getJob(slow.id, 30);
  expect(ended.state).toBe("succeeded");

  // Everything ended before now is cleaned: 1, 2, 3 and the slow job.
  while (Date.now() <= Date.parse(ended.finished_at!)) await Bun.sleep(1);
  expect(await client.clean(0)).toEqual({ deleted: 4 });
  expect((await client.listJobs({})).jobs).toEqual([]);

  expect((await client.drain()).mode).toBe("draining");
  expect((await client.status()).mode).toBe("draining");
  expect(await client.stop()).toEqual({ stopping: true });
  while (stopped() === 0) await Bun.sleep(1);

  expect(sent[0]).toBe(`POST http://in-process/jobs Bearer ${TOKEN}`);
  expect(sent).toContain(`GET http://in-process/jobs?limit=2 Bearer ${TOKEN}`);
  expect(sent).toContain(`PUT http://in-process/groups/slow%20lane Bearer ${TOKEN}`);
  expect(sent).toContain(`GET http://in-process/jobs/1/logs?from=0 Bearer ${TOKEN}`);
});

test("QueueClient round trip: the daemon's refusals arrive as the matching errors with its one-line message", async () => {
  const { client, fetch } = await daemon();
  const missing = await client.getJob(42).catch((error) => error);
  expect(missing).toBeInstanceOf(NotFoundError);
  expect(missing.message).toBe("Cannot find job 42: no such job");
  const bad = await client.submit({ command: "true", priority: -1 }).catch((error) => error);
  expect(bad).toBeInstanceOf(SeamlessError);
  expect(bad.message).toContain("priority");
  const { id } = await client.submit({ command: "true" });
  await client.cancel(id);
  const again = await client.cancel(id).catch((error) => error);
  expect(again).toBeInstanceOf(SeamlessError);
  expect(again.message).toContain("canceled");
  const stranger = new QueueClient({ url: "http://in-process", token: "wrong" }, { fetch });
  const refused = await stranger.status().catch((error) => error);
  expect(refused).toBeInstanceOf(RemoteError);
  expect(refused.status).toBe(401);
  expect(refused.message).toBe("A bearer token is required (Authorization: Bearer TOKEN)");
});
