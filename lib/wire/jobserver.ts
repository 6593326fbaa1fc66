/**
 * The jobserver wire protocol (services-spec §4, §9), shared by the client
 * (`clients/jobserver.ts`) and the server (`servers/jobserver.ts`): routes, request and answer
 * types, both success forms of §4.5, the error texts of §4.4/§4.6 and the cancellation and
 * membership endpoints of §4.7. Nobody else spells these.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { PlainFloat, type PlainValue } from "../serialize/plain-json.ts";
import { dumpsPythonJson } from "../serialize/python-json.ts";

/** Request paths. `/run-transformation` is a GET that carries a JSON body (services-spec §4.3). */
export const JobserverPath = {
  root: "/",
  healthcheck: "/healthcheck",
  runTransformation: "/run-transformation",
  transformationStatus: (tf: Checksum) => `/transformation-status/${tf}`,
  cancelTransformation: (tf: Checksum) => `/cancel-transformation/${tf}`,
  softcancelTransformation: (tf: Checksum) => `/softcancel-transformation/${tf}`,
} as const;

/** The route prefixes of the per-transformation endpoints, for the server's dispatch. */
export const JobserverRoutePrefix = {
  transformationStatus: "/transformation-status/",
  cancelTransformation: "/cancel-transformation/",
  softcancelTransformation: "/softcancel-transformation/",
} as const;

/** Status codes and what they mean on this protocol. */
export const JobserverStatus = {
  ok: 200,
  badRequest: 400,
  notFound: 404,
  /** Record mode of the request differs from the server's (services-spec §4.4 step 2). */
  recordModeMismatch: 409,
  payloadTooLarge: 413,
  /** The transformation failed, or the server could not run it. */
  failed: 500,
} as const;

/** Body texts fixed by the protocol. */
export const JobserverBody = {
  root: "Seamless jobserver is running",
  healthy: "OK",
  /** The `200` answer every waiting request gets when its run is canceled (services-spec §4.7). */
  canceled: "Transformation was canceled",
  missingMemberId: "Missing member_id",
  /** aiohttp's answer to a path without a route. */
  noRoute: "404: Not Found",
} as const;

/** The marker a worker returns when it wrote a remote job directory instead of computing. */
export const REMOTE_JOB_MARKER = "__SEAMLESS_REMOTE_JOB_WRITTEN__:";

/** A `/run-transformation` request body (services-spec §4.3). */
export interface RunTransformationRequest {
  transformation_dict: Record<string, PlainValue>;
  tf_checksum: Checksum;
  tf_dunder: Record<string, PlainValue>;
  scratch: boolean;
  /**
   * Absent in requests from clients older than v0.2, which parse only the bare checksum form
   * (services-spec §4.5); the server answers them in that form.
   */
  record?: boolean;
  strict_dunder?: boolean;
  member_id?: string;
}

/** What the worker measured while running the transformation (services-spec §4.5). */
export interface RecordRuntime {
  started_at: string;
  finished_at: string;
  wall_time_seconds: number;
  cpu_user_seconds: number;
  cpu_system_seconds: number;
  memory_peak_bytes: number | null;
  gpu_memory_peak_bytes: number | null;
  [key: string]: PlainValue | undefined;
}

/** A decoded `/run-transformation` answer. */
export type RunTransformationAnswer =
  | { kind: "result"; checksum: Checksum; runtime?: RecordRuntime }
  | { kind: "canceled" }
  | { kind: "remote-job"; marker: string };

/** The status values of `GET /transformation-status/{tf}` (services-spec §4.7). */
export type TransformationStatus = "not-running" | "running" | "done" | "failed" | "canceled";

/** The answer of the cancel and softcancel endpoints. */
export interface CancelAnswer {
  canceled: boolean;
  status: TransformationStatus;
}

/** A protocol violation: carries the status and the text body the server answers with. */
export class JobserverWireError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(body);
    this.name = "JobserverWireError";
  }
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

function isRecord(value: unknown): value is Record<string, PlainValue> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Validates a checksum as the jobserver does (`Checksum(...)`, lower-cased). @returns null if invalid */
export function parseJobserverChecksum(text: unknown): Checksum | null {
  return typeof text === "string" && HEX64.test(text) ? text.toLowerCase() : null;
}

/**
 * Decodes a `/run-transformation` body.
 *
 * @throws {JobserverWireError} `400 Invalid JSON: …` or `400 Invalid payload: …` (services-spec §4.4 step 1)
 */
export function decodeRunTransformationRequest(body: Uint8Array | string): RunTransformationRequest {
  let payload: unknown;
  try {
    payload = JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
  } catch (error) {
    throw new JobserverWireError(JobserverStatus.badRequest, `Invalid JSON: ${(error as Error).message}`);
  }
  const invalid = (detail: string) => new JobserverWireError(JobserverStatus.badRequest, `Invalid payload: ${detail}`);
  if (!isRecord(payload)) throw invalid("the body must be a JSON object");
  if (!("transformation_dict" in payload)) throw invalid("'transformation_dict'");
  if (!isRecord(payload.transformation_dict)) throw invalid("transformation_dict must be a JSON object");
  const tf = parseJobserverChecksum(payload.tf_checksum);
  if (!tf) throw invalid(`tf_checksum ${JSON.stringify(payload.tf_checksum ?? null)} is not a 64-character hex checksum`);
  const tfDunder = payload.tf_dunder ?? {};
  if (!isRecord(tfDunder)) throw invalid("tf_dunder must be a JSON object");
  const request: RunTransformationRequest = {
    transformation_dict: payload.transformation_dict,
    tf_checksum: tf,
    tf_dunder: tfDunder,
    scratch: Boolean(payload.scratch ?? false),
  };
  if ("record" in payload) request.record = Boolean(payload.record);
  if ("strict_dunder" in payload) request.strict_dunder = Boolean(payload.strict_dunder);
  if (payload.member_id !== undefined && payload.member_id !== null) {
    if (typeof payload.member_id !== "string" || payload.member_id === "") throw invalid("member_id must be a non-empty string");
    request.member_id = payload.member_id;
  }
  return request;
}

/** Encodes a `/run-transformation` body (send it as a GET with `Content-Type: application/json`). */
export function encodeRunTransformationRequest(request: RunTransformationRequest): string {
  return JSON.stringify(request);
}

/** The 409 text of a record-mode mismatch (services-spec §4.4 step 2). */
export function recordModeMismatchText(requested: boolean, startup: boolean): string {
  const py = (flag: boolean) => (flag ? "True" : "False");
  return `Jobserver record mode mismatch: client requested record=${py(requested)}, but jobserver started with record=${py(startup)}. Restart the jobserver after changing record mode.`;
}

/** A UTC timestamp with second precision and a `Z` suffix (ST record_utils `_utcnow_iso`). */
export function formatUtcSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Rounds to 6 decimals, as the record runtime does. */
export function roundMicro(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Python `json.dumps` as aiohttp's answer carries it: `", "` and `": "`, non-ASCII escaped,
 * ints beyond 2^53 (bigint) and {@link PlainFloat}s as Python writes them; keys whose value is
 * undefined are left out.
 */
function pythonJson(value: unknown): string {
  return dumpsPythonJson(withoutUndefined(value));
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value === null || typeof value !== "object" || value instanceof PlainFloat) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, withoutUndefined(v)]));
}

/** Fields of `record_runtime` that Python computes as floats: `0.0` and `3.0`, never `0` or `3`. */
const FLOAT_RUNTIME_FIELDS = new Set(["wall_time_seconds", "cpu_user_seconds", "cpu_system_seconds", "compilation_time_seconds", "process_create_time_epoch"]);

function withFloatTimes(runtime: RecordRuntime): Record<string, unknown> {
  return Object.fromEntries(Object.entries(runtime).map(([key, value]) => [key, FLOAT_RUNTIME_FIELDS.has(key) && typeof value === "number" ? new PlainFloat(value) : value]));
}

/**
 * Encodes a successful `/run-transformation` answer (services-spec §4.5): the structured form,
 * or the bare checksum for a client that sent no `record` field.
 */
export function encodeRunTransformationAnswer(checksum: Checksum, runtime: RecordRuntime, structured: boolean, additions?: RecordAnswerAdditions): string {
  if (!structured) return checksum;
  return pythonJson({ result_checksum: checksum, record_runtime: withFloatTimes(runtime), ...additions });
}

/** What a record-mode answer adds at top level (services-spec §4.5 "Record mode adds"). */
export interface RecordAnswerAdditions {
  /** The bucket labels, checksums and tokens the preconditions found. */
  probe_context: object;
  /** A checksum for compiled transformations, else null. */
  compilation_context: Checksum | null;
  /** `{"job_contract_violations": [...], "diagnostics": {...}}`. */
  job_validation: object;
}

/** Encodes the remote-job answer (services-spec §4.4 step 6). */
export function encodeRemoteJobAnswer(marker: string, structured: boolean): string {
  return structured ? pythonJson({ remote_job_written: marker }) : marker;
}

/**
 * Decodes a `200` answer of `/run-transformation`, in either form (services-spec §4.5
 * "Client parsing"), or the canceled text of §4.7.
 *
 * @throws {JobserverWireError} for a body that is none of these
 */
export function decodeRunTransformationAnswer(text: string): RunTransformationAnswer {
  const trimmed = text.trim();
  if (trimmed === JobserverBody.canceled) return { kind: "canceled" };
  if (trimmed.startsWith(REMOTE_JOB_MARKER)) return { kind: "remote-job", marker: trimmed };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    value = undefined;
  }
  if (isRecord(value)) {
    if (typeof value.remote_job_written === "string") return { kind: "remote-job", marker: value.remote_job_written };
    const checksum = parseJobserverChecksum(value.result_checksum);
    if (!checksum) throw new JobserverWireError(JobserverStatus.failed, "Malformed jobserver success payload");
    const runtime = isRecord(value.record_runtime) ? (value.record_runtime as unknown as RecordRuntime) : undefined;
    return { kind: "result", checksum, runtime };
  }
  const checksum = parseJobserverChecksum(trimmed);
  if (!checksum) throw new JobserverWireError(JobserverStatus.failed, `Malformed jobserver answer: ${JSON.stringify(trimmed.slice(0, 100))}`);
  return { kind: "result", checksum };
}

/** Encodes a `/transformation-status` answer. */
export function encodeStatusAnswer(status: TransformationStatus): string {
  return pythonJson({ status });
}

/** Decodes a `/transformation-status` answer. */
export function decodeStatusAnswer(text: string): TransformationStatus {
  const value = JSON.parse(text) as { status?: unknown };
  const statuses: TransformationStatus[] = ["not-running", "running", "done", "failed", "canceled"];
  if (!statuses.includes(value?.status as TransformationStatus)) throw new Error(`Malformed transformation status: ${text.slice(0, 100)}`);
  return value.status as TransformationStatus;
}

/** Encodes a cancel/softcancel answer. */
export function encodeCancelAnswer(answer: CancelAnswer): string {
  return pythonJson(answer);
}

/** Decodes a cancel/softcancel answer. */
export function decodeCancelAnswer(text: string): CancelAnswer {
  const value = JSON.parse(text) as CancelAnswer;
  if (typeof value?.canceled !== "boolean") throw new Error(`Malformed cancel answer: ${text.slice(0, 100)}`);
  return { canceled: value.canceled, status: value.status };
}

/**
 * Parses the `{tf}` of a per-transformation route.
 *
 * @throws {JobserverWireError} `400 Invalid checksum: …`
 */
export function parseRouteChecksum(text: string): Checksum {
  const checksum = parseJobserverChecksum(text);
  if (!checksum) throw new JobserverWireError(JobserverStatus.badRequest, `Invalid checksum: ${text}`);
  return checksum;
}

/** Encodes a softcancel body. */
export function encodeSoftcancelRequest(memberId: string): string {
  return JSON.stringify({ member_id: memberId });
}

/**
 * Decodes a softcancel body.
 *
 * @throws {JobserverWireError} `400 Missing member_id` (also for a body that is not JSON)
 */
export function decodeSoftcancelRequest(body: Uint8Array | string): string {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
  } catch {
    value = undefined;
  }
  const memberId = isRecord(value) ? value.member_id : undefined;
  if (typeof memberId !== "string" || memberId === "") throw new JobserverWireError(JobserverStatus.badRequest, JobserverBody.missingMemberId);
  return memberId;
}

/** The largest `/run-transformation` body the server reads (larger ones get 413). */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
