/**
 * The queue daemon's HTTP face (issue 21 §2) as a plain handler over a {@link Scheduler}: jobs
 * (submit one or a batch, get, list, cancel), logs (whole, from an offset, or followed while the
 * job runs), wait, pause/resume, drain, stop, clean and groups. Routes, fields and statuses come
 * from `wire/queue.ts`; the bearer token is checked here when the daemon has one.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { IllegalTransitionError, InvalidJobError, JobNotFoundError } from "../queue/errors.ts";
import { isTerminal, type Job, type JobSpec } from "../queue/job.ts";
import { readLogChunk } from "../queue/logs.ts";
import type { Scheduler } from "../queue/scheduler.ts";
import {
  decodeJobListQuery, decodeJobRequest, encodeJob, JobRequestError, matchGroupRoute, matchJobRoute, MAX_QUEUE_BODY_BYTES, MAX_WAIT_SECONDS, QUEUE_HEALTHY_BODY,
  QueuePath, QueueStatus,
  type DecodedJobRequest, type JobPage, type QueueDaemonStatus, type WaitAnswer,
} from "../wire/queue.ts";
import { BodyTooLargeError, HttpError, readBody, type ServiceHandler, type ServiceRequest, type ServiceResponse } from "./http.ts";

/** Options of {@link createQueueHandler}. */
export interface QueueHandlerOptions {
  scheduler: Scheduler;
  /** Turns a validated submission into a job spec (hashing a transformation's inputs). */
  prepareJob: (request: DecodedJobRequest) => Promise<JobSpec>;
  /** Required as `Authorization: Bearer TOKEN` when set. */
  token: string | null;
  status: () => QueueDaemonStatus;
  /** Called after `/stop` was answered. */
  onStop: () => void;
  /** How often a followed log is looked at for new bytes (ms). */
  followIntervalMs?: number;
}

const JSON_TYPE = { "content-type": "application/json" };

function json(status: number, value: unknown): ServiceResponse {
  return { status, headers: JSON_TYPE, body: JSON.stringify(value) };
}

function fail(status: number, message: string, field?: string): never {
  throw new HttpError(status, JSON.stringify(field ? { error: message, field } : { error: message }), "application/json");
}

async function readJson(request: ServiceRequest): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await readBody(request, MAX_QUEUE_BODY_BYTES);
  } catch (error) {
    // Every queue error is a JSON `{"error": …}`, an oversize body too.
    if (error instanceof BodyTooLargeError) fail(QueueStatus.tooLarge, `Request body larger than ${error.maxBytes} bytes`);
    throw error;
  }
  if (bytes.byteLength === 0) return {};
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    fail(QueueStatus.badRequest, "Malformed JSON body");
  }
}

function jobId(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 1) fail(QueueStatus.notFound, `No such job "${text}"`);
  return id;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Maps engine errors to answers; everything else is left to the one error path (a logged 500). */
function translate(error: unknown): never {
  if (error instanceof JobRequestError) fail(QueueStatus.badRequest, error.message, error.field);
  if (error instanceof InvalidJobError) fail(QueueStatus.badRequest, error.message, error.field);
  if (error instanceof JobNotFoundError) fail(QueueStatus.notFound, error.message);
  if (error instanceof IllegalTransitionError) fail(QueueStatus.conflict, error.message);
  throw error;
}

/**
 * Creates the queue handler.
 *
 * @param options the scheduler and the daemon's hooks
 * @returns a handler for `servers/serve.ts`
 * @example
 * ```ts
 * const handler = withErrorHandling(createQueueHandler({ scheduler, prepareJob, token: null, status, onStop }), log);
 * const answer = await handler(makeServiceRequest("POST", "/jobs", JSON.stringify({ command: "true", plain: true })));
 * assertEquals(answer.status, 201);
 * ```
 */
export function createQueueHandler(options: QueueHandlerOptions): ServiceHandler {
  const { scheduler } = options;
  const followIntervalMs = options.followIntervalMs ?? 100;

  async function submit(request: ServiceRequest): Promise<ServiceResponse> {
    const body = await readJson(request);
    const batch = Array.isArray(body);
    const items = batch ? body : [body];
    if (batch && items.length === 0) fail(QueueStatus.badRequest, "An empty list of jobs", "body");
    const decoded = items.map((item, i) => decodeJobRequest(item, batch ? `[${i}].` : ""));
    const specs: JobSpec[] = [];
    for (const item of decoded) specs.push(await options.prepareJob(item));
    const jobs = scheduler.submit(specs).map(encodeJob);
    return json(QueueStatus.created, batch ? jobs : jobs[0]);
  }

  async function getJob(id: number, query: URLSearchParams, signal?: AbortSignal): Promise<ServiceResponse> {
    let job = scheduler.getJob(id);
    const wait = query.get("wait");
    if (wait !== null && !isTerminal(job.state)) {
      const seconds = Number(wait);
      if (!(seconds >= 0)) fail(QueueStatus.badRequest, `"wait" must be a number of seconds`, "wait");
      job = await waitBounded([id], Math.min(seconds, MAX_WAIT_SECONDS), signal).then((jobs) => jobs[0]!);
    }
    return json(QueueStatus.ok, encodeJob(job));
  }

  async function waitBounded(ids: number[], seconds: number, signal?: AbortSignal): Promise<Job[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), seconds * 1000);
    const onClientGone = () => controller.abort();
    signal?.addEventListener("abort", onClientGone, { once: true });
    try {
      await Promise.all(ids.map((id) => scheduler.waitFor(id, controller.signal).catch(() => null)));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onClientGone);
    }
    return ids.map((id) => scheduler.getJob(id));
  }

  async function wait(request: ServiceRequest): Promise<ServiceResponse> {
    const body = (await readJson(request)) as Record<string, unknown>;
    for (const key of Object.keys(body)) if (key !== "ids" && key !== "timeout") fail(QueueStatus.badRequest, `Unknown field "${key}"`, key);
    const ids = body.ids === undefined || body.ids === null ? scheduler.activeIds() : body.ids;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id))) fail(QueueStatus.badRequest, `"ids" must be a list of job ids or null`, "ids");
    const timeout = body.timeout === undefined ? MAX_WAIT_SECONDS : body.timeout;
    if (typeof timeout !== "number" || !(timeout >= 0)) fail(QueueStatus.badRequest, `"timeout" must be a number of seconds`, "timeout");
    for (const id of ids) scheduler.getJob(id);
    const jobs = await waitBounded(ids as number[], Math.min(timeout, MAX_WAIT_SECONDS), request.signal);
    const answer: WaitAnswer = { done: jobs.every((job) => isTerminal(job.state)), jobs: jobs.map(encodeJob) };
    return json(QueueStatus.ok, answer);
  }

  function logs(id: number, query: URLSearchParams, signal?: AbortSignal, webSocket = false): ServiceResponse {
    const job = scheduler.getJob(id);
    const from = Number(query.get("from") ?? "0");
    if (!Number.isInteger(from) || from < 0) fail(QueueStatus.badRequest, `"from" must be a byte offset`, "from");
    // A WebSocket reader always follows.
    const follow = query.get("follow") === "1" || query.get("follow") === "true" || webSocket;
    const path = () => scheduler.filesOf(scheduler.getJob(id)).log;
    if (!follow) {
      const { data, nextOffset } = readLogChunk(path(), from, 64 * 1024 * 1024, scheduler.logCapBytes);
      if (data.byteLength === 0 && from === 0 && (job.state === "queued" || job.startedAt === null)) {
        fail(QueueStatus.notFound, `Job ${id} has no logs: it has not started`);
      }
      return { status: QueueStatus.ok, headers: { "content-type": "application/octet-stream", "x-next-offset": String(nextOffset) }, body: data };
    }
    async function* stream(): AsyncGenerator<Uint8Array> {
      let offset = from;
      for (;;) {
        if (signal?.aborted) return;
        const ended = isTerminal(scheduler.getJob(id).state);
        const { data, nextOffset } = readLogChunk(path(), offset, undefined, scheduler.logCapBytes);
        if (data.byteLength > 0) {
          offset = nextOffset;
          yield data;
          continue;
        }
        if (ended) return;
        await Bun.sleep(followIntervalMs);
      }
    }
    return { status: QueueStatus.ok, headers: { "content-type": "application/octet-stream" }, body: { stream: stream() } };
  }

  async function pauseOrResume(request: ServiceRequest, pause: boolean): Promise<ServiceResponse> {
    const body = (await readJson(request)) as Record<string, unknown>;
    for (const key of Object.keys(body)) if (key !== "id" && key !== "group") fail(QueueStatus.badRequest, `Unknown field "${key}"`, key);
    if (body.id !== undefined && !Number.isInteger(body.id)) fail(QueueStatus.badRequest, `"id" must be a job id`, "id");
    if (body.group !== undefined && typeof body.group !== "string") fail(QueueStatus.badRequest, `"group" must be a group name`, "group");
    const target = { id: body.id as number | undefined, group: body.group as string | undefined };
    if (pause) scheduler.pause(target);
    else scheduler.resume(target);
    return json(QueueStatus.ok, options.status());
  }

  async function route(request: ServiceRequest): Promise<ServiceResponse> {
    const { method, path } = request;
    const query = new URLSearchParams(request.query ?? "");
    if (path === QueuePath.healthcheck) return { status: QueueStatus.ok, body: QUEUE_HEALTHY_BODY };
    if (options.token !== null && !tokenMatches(request.headers.authorization, options.token)) {
      fail(QueueStatus.unauthorized, "A bearer token is required (Authorization: Bearer TOKEN)");
    }
    if (path === QueuePath.jobs) {
      if (method === "POST") return submit(request);
      if (method === "GET") {
        const list = decodeJobListQuery(request.query ?? "");
        const jobs = scheduler.listJobs({ states: list.states, group: list.group, label: list.label, beforeId: list.before, limit: list.limit });
        const page: JobPage = { jobs: jobs.map(encodeJob), next: jobs.length === list.limit ? jobs[jobs.length - 1]!.id : null };
        return json(QueueStatus.ok, page);
      }
    }
    const jobRoute = matchJobRoute(path);
    if (jobRoute) {
      const id = jobId(jobRoute.idText);
      if (jobRoute.logs) {
        if (method === "GET") return logs(id, query, request.signal, request.headers.upgrade?.toLowerCase() === "websocket");
      } else if (method === "GET") return getJob(id, query, request.signal);
      else if (method === "DELETE") return json(QueueStatus.ok, encodeJob(scheduler.cancel(id)));
    }
    const group = matchGroupRoute(path);
    if (group !== null && method === "PUT") {
      const body = (await readJson(request)) as Record<string, unknown>;
      for (const key of Object.keys(body)) if (key !== "parallel") fail(QueueStatus.badRequest, `Unknown field "${key}"`, key);
      return json(QueueStatus.ok, scheduler.setGroup(decodeURIComponent(group), body.parallel as number));
    }
    if (method === "GET" && path === QueuePath.status) return json(QueueStatus.ok, options.status());
    if (method === "POST") {
      if (path === QueuePath.wait) return wait(request);
      if (path === QueuePath.pause) return pauseOrResume(request, true);
      if (path === QueuePath.resume) return pauseOrResume(request, false);
      if (path === QueuePath.drain) {
        await scheduler.drain();
        return json(QueueStatus.ok, options.status());
      }
      if (path === QueuePath.stop) {
        setTimeout(options.onStop, 10);
        return json(QueueStatus.ok, { stopping: true });
      }
      if (path === QueuePath.clean) {
        const body = (await readJson(request)) as Record<string, unknown>;
        for (const key of Object.keys(body)) if (key !== "older_than") fail(QueueStatus.badRequest, `Unknown field "${key}"`, key);
        const olderThan = body.older_than ?? 0;
        if (typeof olderThan !== "number" || !(olderThan >= 0)) fail(QueueStatus.badRequest, `"older_than" must be a number of seconds`, "older_than");
        return json(QueueStatus.ok, { deleted: scheduler.clean(Date.now() - olderThan * 1000) });
      }
    }
    fail(QueueStatus.notFound, `No route for ${method} ${path}`);
  }

  return async (request) => {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      translate(error);
    }
  };
}
