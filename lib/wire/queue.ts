/**
 * The queue daemon's HTTP protocol (issue 21 §2), shared by the client (`clients/queue.ts`)
 * and the server (`servers/queue.ts`): routes, status meanings, the job submission with its
 * validation (a 400 names the field), the job object and the list page. Nobody else spells these.
 * @module
 */
import { isAbsolute } from "node:path";

/**
 * Where a job is.
 * - `queued`: waiting for a slot, its dependencies, a paused group, or its retry delay
 * - `running`: an execution is under way (or the job is attached to an identical one)
 * - `succeeded`: exit code 0 (or answered from cache)
 * - `failed`: non-zero exit, or a dependency that can no longer be met; no retries asked
 * - `timeout`: killed at its time limit, no retries left
 * - `canceled`: canceled by a user
 * - `interrupted`: its process vanished with the daemon and no retries are left
 * - `dead`: failed on every one of its 1 + `retries` attempts
 */
export type JobState = "queued" | "running" | "succeeded" | "failed" | "timeout" | "canceled" | "interrupted" | "dead";

/** All states, in display order. */
export const JOB_STATES: readonly JobState[] = ["queued", "running", "succeeded", "failed", "timeout", "canceled", "interrupted", "dead"];

/** How a job depends on another: `success` (--after), `any` (--after-any), `failure` (--after-fail). */
export type DependencyCondition = "success" | "any" | "failure";

/** One dependency of a job. */
export interface Dependency {
  id: number;
  on: DependencyCondition;
}

/** What a submitter asks for (the body of `POST /jobs`, after validation and defaults). */
export interface JobSpec {
  /** The bash command line as the user wrote it. */
  command: string;
  /** Run the command as is, uncached (task-spooler style). */
  plain: boolean;
  /** Higher runs first; equal priorities run in submission order. */
  priority: number;
  /** Extra attempts after a failure or timeout. */
  retries: number;
  timeoutSeconds: number | null;
  after: Dependency[];
  group: string;
  label: string | null;
  /** Directory the job runs in. */
  workdir: string;
  /** Extra environment variables for the job's process. */
  env: Record<string, string>;
  /**
   * Jobs with the same key in flight share one execution, and a key with a cached result is
   * completed without running (for transformations: the transformation checksum).
   */
  dedupeKey: string | null;
  /** Executor-specific data (e.g. the transformation to run); JSON. */
  payload: unknown;
}

/** A job as stored. Times are milliseconds since the epoch. */
export interface Job extends JobSpec {
  id: number;
  state: JobState;
  /** Attempts started so far. */
  attempts: number;
  /** Held back by `pause ID`. */
  paused: boolean;
  submittedAt: number;
  /** A retried job does not start before this time. */
  notBefore: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  resultChecksum: string | null;
  wallSeconds: number | null;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  /** Why the job ended as it did (or why it was requeued), in words. */
  reason: string | null;
  /** Process of the current attempt and its start time (to re-attach after a daemon restart). */
  pid: number | null;
  pidStartTime: string | null;
  /** The job whose execution this one shares (dedupe), if any. */
  attachedTo: number | null;
}

/** Request paths. */
export const QueuePath = {
  healthcheck: "/healthcheck",
  status: "/status",
  jobs: "/jobs",
  job: (id: number) => `/jobs/${id}`,
  logs: (id: number) => `/jobs/${id}/logs`,
  wait: "/wait",
  pause: "/pause",
  resume: "/resume",
  drain: "/drain",
  stop: "/stop",
  clean: "/clean",
  group: (name: string) => `/groups/${encodeURIComponent(name)}`,
} as const;

/** The body of a healthy `/healthcheck`. */
export const QUEUE_HEALTHY_BODY = "OK";

/**
 * What a path of the form {@link QueuePath.job} or {@link QueuePath.logs} names: the job id as
 * written (still to be checked), and whether it asks for the logs; null for any other path.
 *
 * @param path the request path, without the query string
 * @returns the id text and the logs flag, or null
 * @example
 * ```ts
 * assertEquals(matchJobRoute("/jobs/7/logs"), { idText: "7", logs: true });
 * assertEquals(matchJobRoute("/jobs"), null);
 * ```
 */
export function matchJobRoute(path: string): { idText: string; logs: boolean } | null {
  const match = /^\/jobs\/([^/]+)(\/logs)?$/.exec(path);
  return match ? { idText: match[1]!, logs: Boolean(match[2]) } : null;
}

/**
 * The group a path of the form {@link QueuePath.group} names, still URI-encoded (decoding may
 * throw, so it is left to the route that uses it), or null for any other path.
 *
 * @param path the request path, without the query string
 * @returns the encoded group name, or null
 */
export function matchGroupRoute(path: string): string | null {
  const match = /^\/groups\/([^/]+)$/.exec(path);
  return match ? match[1]! : null;
}

/** Status codes and what they mean on this protocol. */
export const QueueStatus = {
  ok: 200,
  created: 201,
  badRequest: 400,
  unauthorized: 401,
  notFound: 404,
  /** The job's state does not allow the request (cancel a finished job). */
  conflict: 409,
  tooLarge: 413,
} as const;

/** Largest request body the daemon reads (a batch of many jobs fits). */
export const MAX_QUEUE_BODY_BYTES = 64 * 1024 * 1024;
/** Longest a `/wait` or `?wait=` request is held, seconds. */
export const MAX_WAIT_SECONDS = 60;

/** A submission as sent: only `command` is required. */
export interface JobRequest {
  command: string;
  plain?: boolean;
  priority?: number;
  retries?: number;
  timeout?: number | null;
  after?: number[];
  after_any?: number[];
  after_fail?: number[];
  group?: string;
  label?: string | null;
  workdir?: string;
}

/** A submission after validation, defaults applied; no workdir means the daemon's. */
export type DecodedJobRequest = Pick<JobSpec, "command" | "plain" | "priority" | "retries" | "timeoutSeconds" | "after" | "group" | "label"> & {
  workdir: string | null;
};

/** A submission that breaks the protocol; `field` names what is wrong. */
export class JobRequestError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

const FIELDS = new Set(["command", "plain", "priority", "retries", "timeout", "after", "after_any", "after_fail", "group", "label", "workdir"]);
const GROUP_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 2 ** 31;
}

function ids(value: unknown, field: string): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((id) => typeof id === "number" && Number.isInteger(id) && id > 0)) {
    throw new JobRequestError(field, `"${field}" must be a list of job ids`);
  }
  return value;
}

/**
 * Validates one submission.
 *
 * @param value the parsed JSON
 * @param where a prefix for messages in a batch (`jobs[3].`)
 * @returns the submission with defaults
 * @throws {JobRequestError} naming the first field that is wrong
 * @example
 * ```ts
 * assertEquals(decodeJobRequest({ command: "true" }).priority, 0);
 * assertThrows(() => decodeJobRequest({ command: "true", colour: 1 }), JobRequestError, 'Unknown field "colour"');
 * ```
 */
export function decodeJobRequest(value: unknown, where = ""): DecodedJobRequest {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new JobRequestError(where || "body", `${where || "The body"} must be a JSON object`);
  const body = value as Record<string, unknown>;
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) throw new JobRequestError(key, `Unknown field "${where}${key}"`);
  const bad = (field: string, what: string) => new JobRequestError(field, `"${where}${field}" must be ${what}`);
  if (typeof body.command !== "string") throw bad("command", "a string");
  if (body.command.trim() === "") throw bad("command", "a non-empty command");
  if (body.plain !== undefined && typeof body.plain !== "boolean") throw bad("plain", "true or false");
  if (body.priority !== undefined && !isNonNegativeInteger(body.priority)) throw bad("priority", "a non-negative integer");
  if (body.retries !== undefined && !(isNonNegativeInteger(body.retries) && body.retries <= 100)) throw bad("retries", "an integer from 0 to 100");
  if (body.timeout !== undefined && body.timeout !== null && !(typeof body.timeout === "number" && body.timeout > 0 && Number.isFinite(body.timeout))) {
    throw bad("timeout", "a positive number of seconds or null");
  }
  if (body.group !== undefined && !(typeof body.group === "string" && GROUP_NAME.test(body.group))) throw bad("group", "a name of letters, digits, '.', '_' or '-'");
  if (body.label !== undefined && body.label !== null && typeof body.label !== "string") throw bad("label", "a string or null");
  if (body.workdir !== undefined && !(typeof body.workdir === "string" && isAbsolute(body.workdir))) throw bad("workdir", "an absolute path");
  const after: Dependency[] = [
    ...ids(body.after, `${where}after`).map((id) => ({ id, on: "success" as const })),
    ...ids(body.after_any, `${where}after_any`).map((id) => ({ id, on: "any" as const })),
    ...ids(body.after_fail, `${where}after_fail`).map((id) => ({ id, on: "failure" as const })),
  ];
  return {
    command: body.command,
    plain: (body.plain as boolean | undefined) ?? false,
    priority: (body.priority as number | undefined) ?? 0,
    retries: (body.retries as number | undefined) ?? 0,
    timeoutSeconds: (body.timeout as number | null | undefined) ?? null,
    after,
    group: (body.group as string | undefined) ?? "default",
    label: (body.label as string | null | undefined) ?? null,
    workdir: (body.workdir as string | undefined) ?? null,
  };
}

/** The job object of `POST /jobs`, `GET /jobs/{id}` and `GET /jobs`. Times are ISO 8601. */
export interface JobObject {
  id: number;
  state: JobState;
  command: string;
  plain: boolean;
  priority: number;
  retries: number;
  timeout: number | null;
  after: number[];
  after_any: number[];
  after_fail: number[];
  group: string;
  label: string | null;
  workdir: string;
  paused: boolean;
  attempts: number;
  submitted_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  result_checksum: string | null;
  transformation_checksum: string | null;
  wall_seconds: number | null;
  cpu_seconds: number | null;
  max_rss_bytes: number | null;
  reason: string | null;
  attached_to: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Where a transformation job keeps its transformation checksum (the payload of its job). */
export function transformationChecksumOf(job: Job): string | null {
  const payload = job.payload as { transformation_checksum?: unknown } | null;
  return typeof payload?.transformation_checksum === "string" ? payload.transformation_checksum : null;
}

/** The wire form of a job. */
export function encodeJob(job: Job): JobObject {
  const on = (condition: Dependency["on"]) => job.after.filter((d) => d.on === condition).map((d) => d.id);
  return {
    id: job.id, state: job.state, command: job.command, plain: job.plain, priority: job.priority, retries: job.retries,
    timeout: job.timeoutSeconds, after: on("success"), after_any: on("any"), after_fail: on("failure"), group: job.group,
    label: job.label, workdir: job.workdir, paused: job.paused, attempts: job.attempts, submitted_at: iso(job.submittedAt)!,
    started_at: iso(job.startedAt), finished_at: iso(job.finishedAt), exit_code: job.exitCode, result_checksum: job.resultChecksum,
    transformation_checksum: transformationChecksumOf(job), wall_seconds: job.wallSeconds, cpu_seconds: job.cpuSeconds,
    max_rss_bytes: job.maxRssBytes, reason: job.reason, attached_to: job.attachedTo,
  };
}

/** A page of `GET /jobs`: newest first; `next` is the `before` of the next page, null at the end. */
export interface JobPage {
  jobs: JobObject[];
  next: number | null;
}

/** The query of `GET /jobs`. */
export interface JobListQuery {
  states?: JobState[];
  group?: string;
  label?: string;
  limit: number;
  before?: number;
}

/** Default and largest page sizes of `GET /jobs`. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/**
 * Parses the query of `GET /jobs` (`state=queued,running&group=G&label=L&limit=N&before=ID`).
 *
 * @throws {JobRequestError} naming a bad parameter
 */
export function decodeJobListQuery(query: string): JobListQuery {
  const params = new URLSearchParams(query);
  const result: JobListQuery = { limit: DEFAULT_PAGE_SIZE };
  for (const [key, value] of params) {
    if (key === "state") {
      const states = value.split(",").filter(Boolean);
      for (const state of states) if (!(JOB_STATES as readonly string[]).includes(state)) throw new JobRequestError("state", `Unknown state "${state}"; states are ${JOB_STATES.join(", ")}`);
      result.states = states as JobState[];
    } else if (key === "group") result.group = value;
    else if (key === "label") result.label = value;
    else if (key === "limit" || key === "before") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || (key === "limit" && n > MAX_PAGE_SIZE)) throw new JobRequestError(key, `"${key}" must be an integer from 1${key === "limit" ? ` to ${MAX_PAGE_SIZE}` : ""}`);
      if (key === "limit") result.limit = n;
      else result.before = n;
    } else throw new JobRequestError(key, `Unknown parameter "${key}"`);
  }
  return result;
}

/** Encodes a {@link JobListQuery} (the client side of {@link decodeJobListQuery}). */
export function encodeJobListQuery(query: Partial<JobListQuery>): string {
  const params = new URLSearchParams();
  if (query.states?.length) params.set("state", query.states.join(","));
  if (query.group !== undefined) params.set("group", query.group);
  if (query.label !== undefined) params.set("label", query.label);
  if (query.limit !== undefined) params.set("limit", String(query.limit));
  if (query.before !== undefined) params.set("before", String(query.before));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** `GET /status`. */
export interface QueueDaemonStatus {
  pid: number;
  version: string;
  mode: "running" | "paused" | "draining";
  counts: Record<string, number>;
  groups: { name: string; parallel: number; paused: boolean; running: number; ready: number }[];
  database: string;
}

/** `POST /wait` body: the ids to wait for (null: every job queued or running now), and for how long. */
export interface WaitRequest {
  ids: number[] | null;
  timeout: number;
}

/** `POST /wait` answer: `done` once every job waited for has ended. */
export interface WaitAnswer {
  done: boolean;
  jobs: JobObject[];
}

/** The body of an error answer: `{"error": message, "field"?: name}`. */
export interface QueueErrorBody {
  error: string;
  field?: string;
}
