/**
 * The jobserver service (services-spec §4, §9; issue 22) as a plain handler: `/run-transformation`
 * answered from the result cache when it can be, else run once on the executor however many
 * requests ask for it; cancellation, soft cancellation and status per transformation.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { transformationBufferOf } from "../transformation/dict.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import {
  JobserverBody, JobserverPath, JobserverRoutePrefix, JobserverStatus, JobserverWireError, MAX_REQUEST_BYTES,
  decodeRunTransformationRequest, decodeSoftcancelRequest, encodeCancelAnswer, encodeRunTransformationAnswer, encodeStatusAnswer,
  formatUtcSeconds, parseRouteChecksum, recordModeMismatchText, roundMicro, type RecordAnswerAdditions, type RecordRuntime, type RunTransformationRequest,
} from "../wire/jobserver.ts";
import type { PoolResult } from "../queue/worker-pool.ts";
import { BodyTooLargeError, HttpError, readBody, type ServiceHandler, type ServiceRequest, type ServiceResponse } from "./http.ts";
import type { TransformationRuns } from "./_jobserver-runs.ts";
import { RemoteError } from "../errors.ts";
import { RecordBucketError, isRecordProbe, type ProbeContext } from "../record/bucket-probes.ts";
import type { JobserverRecordMode } from "../record/jobserver-record.ts";
import type { Log } from "../log.ts";

export { TransformationRuns, type TransformationRunsOptions, type RunOutcome as TransformationRunOutcome } from "./_jobserver-runs.ts";

/** The result cache the jobserver consults before running anything (a database, or the local cache). */
export interface JobserverResultCache {
  getResult(tfChecksum: Checksum): Promise<Checksum | null>;
  /** Records a fresh result; absent when the clients write the database (services-spec §4.4). */
  recordResult?(tfChecksum: Checksum, resultChecksum: Checksum, runtime: RecordRuntime): Promise<void>;
}

/** Options of {@link createJobserverHandler}. */
export interface JobserverOptions {
  /** The engine face the requests become jobs of. */
  runs: TransformationRuns;
  /** Where fresh results are recorded (the local cache), if the jobserver records them. */
  results: JobserverResultCache | null;
  /**
   * Record mode (`parameters.record` of the status file, services-spec §4.1 step 5): its bucket
   * preconditions and answer additions; null when off.
   */
  record: JobserverRecordMode | null;
  log: Log;
}

/**
 * A cache lookup for the engine: the cached result of a transformation, when its buffer is in
 * `store` (a result whose buffer is gone is computed again).
 */
export function cachedResultLookup(results: JobserverResultCache, store: BufferStore): (tf: Checksum) => Promise<Checksum | null> {
  return async (tf) => {
    const cached = await results.getResult(tf);
    if (!cached) return null;
    return (await store.has([cached]))[0] ? cached : null;
  };
}

/** The handler, and whether work runs or waits (for the inactivity timeout). */
export type JobserverHandler = ServiceHandler & { activeRuns(): number };

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(status: number, body: string): ServiceResponse {
  return { status, headers: TEXT, body };
}

function wireError(error: unknown): never {
  if (error instanceof JobserverWireError) throw new HttpError(error.status, error.body);
  throw error;
}

/**
 * Creates the jobserver handler.
 *
 * @param options the engine face, the result cache to record in, record mode
 * @returns the handler; it never throws for bad input, which gets 400/409/413 answers
 * @example
 * ```ts
 * const runs = await TransformationRuns.start({ runner: pool, parallel: 6 });
 * const handler = createJobserverHandler({ runs, results: null, record: null, log });
 * const response = await handler(makeServiceRequest("GET", "/healthcheck"));
 * // response.status === 200, response.body === "OK"
 * ```
 */
export function createJobserverHandler(options: JobserverOptions): JobserverHandler {
  const runs = options.runs;
  const processStartedAt = formatUtcSeconds(new Date());
  let legacyMembers = 0;
  let executionIndex = 0;

  const runtimeOf = (result: PoolResult | null): RecordRuntime => {
    // A cache answer ran nothing: zero times, no memory.
    const now = Date.now();
    return {
      started_at: formatUtcSeconds(new Date(result?.runtime.startedAtMs ?? now)),
      finished_at: formatUtcSeconds(new Date(result?.runtime.finishedAtMs ?? now)),
      wall_time_seconds: roundMicro(result?.runtime.wallSeconds ?? 0),
      cpu_user_seconds: roundMicro(result?.runtime.cpuUserSeconds ?? 0),
      cpu_system_seconds: roundMicro(result?.runtime.cpuSystemSeconds ?? 0),
      memory_peak_bytes: result?.runtime.memoryPeakBytes ?? null,
      gpu_memory_peak_bytes: null,
    };
  };

  const answer = (request: RunTransformationRequest, checksum: Checksum, runtime: RecordRuntime, additions?: RecordAnswerAdditions) =>
    text(JobserverStatus.ok, encodeRunTransformationAnswer(checksum, runtime, request.record !== undefined, additions));

  /** The bucket preconditions (services-spec §4.4 step 3); a failure is the 500 text, as in Python. */
  const checkBuckets = async (record: JobserverRecordMode, request: RunTransformationRequest): Promise<ProbeContext | ServiceResponse> => {
    try {
      return await record.checkBuckets(request.transformation_dict, request.tf_dunder);
    } catch (error) {
      if (error instanceof RecordBucketError) return text(JobserverStatus.failed, error.message);
      // The database could not be asked (down, refusing): a 500 that says so, not a generic one.
      if (error instanceof RemoteError) return text(JobserverStatus.failed, `Record mode cannot read the bucket probes from the database: ${error.message}`);
      throw error;
    }
  };

  const runTransformation = async (req: ServiceRequest): Promise<ServiceResponse> => {
    const body = await readLimitedBody(req);
    let request: RunTransformationRequest;
    try {
      request = decodeRunTransformationRequest(body);
    } catch (error) {
      wireError(error);
    }
    const startupRecord = options.record !== null;
    if (Boolean(request.record) !== startupRecord) {
      throw new HttpError(JobserverStatus.recordModeMismatch, recordModeMismatchText(Boolean(request.record), startupRecord));
    }
    // QUIRK: Python does not check that tf_checksum is the dict's; a mismatch would cache a
    // result under the wrong key for every client of the database, so it is refused here.
    let actual: Checksum;
    try {
      actual = transformationBufferOf(request.transformation_dict).checksum;
    } catch (error) {
      throw new HttpError(JobserverStatus.badRequest, `Invalid payload: ${(error as Error).message}`);
    }
    if (actual !== request.tf_checksum) {
      throw new HttpError(JobserverStatus.badRequest, `Invalid payload: tf_checksum ${request.tf_checksum} does not match the transformation dict (its checksum is ${actual})`);
    }
    // Record probes (run by seamless-probe to capture the buckets) are exempt from the rule.
    const record = options.record && !isRecordProbe(request.transformation_dict, request.tf_dunder) ? options.record : null;
    if (record) {
      const checked = await checkBuckets(record, request);
      if ("status" in checked) return checked;
    }
    const dict: Record<string, PlainValue> = { ...request.transformation_dict, ...request.tf_dunder };
    const memberId = request.member_id ?? `legacy-request-${++legacyMembers}`;
    const outcome = await runs.join({ tfChecksum: request.tf_checksum, dict, scratch: request.scratch }, memberId, req.signal);
    if (outcome.kind === "canceled") return text(JobserverStatus.ok, JobserverBody.canceled);
    if (outcome.kind === "failed") return text(JobserverStatus.failed, outcome.message);
    const runtime = runtimeOf(outcome.result);
    if (outcome.result && options.results?.recordResult && !request.scratch) {
      await options.results.recordResult(request.tf_checksum, outcome.checksum, runtime);
    }
    if (!record) return answer(request, outcome.checksum, runtime);
    // Python checks the buckets again for the context it answers (services-spec §4.5).
    const probeContext = await checkBuckets(record, request);
    if ("status" in probeContext) return probeContext;
    Object.assign(runtime, record.processFacts(processStartedAt), {
      worker_execution_index: ++executionIndex,
      // Our pool's retry after a worker died; Python counts its remote-client restarts here.
      retry_count: outcome.result?.retries ?? 0,
    });
    return answer(request, outcome.checksum, runtime, {
      probe_context: probeContext,
      // Compiled transformations are not run by these workers: there is no compilation context.
      compilation_context: null,
      job_validation: record.jobValidation(request.transformation_dict, request.tf_dunder),
    });
  };

  const perTransformation = async (req: ServiceRequest): Promise<ServiceResponse | null> => {
    const route = (prefix: string) => (req.path.startsWith(prefix) ? req.path.slice(prefix.length) : null);
    const statusOf = route(JobserverRoutePrefix.transformationStatus);
    if (statusOf !== null && req.method === "GET") {
      return text(JobserverStatus.ok, encodeStatusAnswer(runs.status(checkedRouteChecksum(statusOf))));
    }
    const cancelOf = route(JobserverRoutePrefix.cancelTransformation);
    if (cancelOf !== null && req.method === "POST") {
      return text(JobserverStatus.ok, encodeCancelAnswer(runs.cancel(checkedRouteChecksum(cancelOf))));
    }
    const softcancelOf = route(JobserverRoutePrefix.softcancelTransformation);
    if (softcancelOf !== null && req.method === "POST") {
      const tf = checkedRouteChecksum(softcancelOf);
      let memberId: string;
      try {
        memberId = decodeSoftcancelRequest(await readLimitedBody(req));
      } catch (error) {
        wireError(error);
      }
      return text(JobserverStatus.ok, encodeCancelAnswer(runs.softcancel(tf, memberId)));
    }
    return null;
  };

  const handler = (async (req: ServiceRequest): Promise<ServiceResponse> => {
    if (req.method === "GET" && req.path === JobserverPath.root) return text(JobserverStatus.ok, JobserverBody.root);
    if (req.method === "GET" && req.path === JobserverPath.healthcheck) return text(JobserverStatus.ok, JobserverBody.healthy);
    if (req.method === "GET" && req.path === JobserverPath.runTransformation) {
      return runTransformation(req).catch((error) => {
        // A dict nested beyond the stack (100k levels) is a bad payload, not a server failure.
        if (error instanceof RangeError) throw new HttpError(JobserverStatus.badRequest, `Invalid payload: ${error.message}`);
        throw error;
      });
    }
    const routed = await perTransformation(req);
    if (routed) return routed;
    return text(JobserverStatus.notFound, JobserverBody.noRoute);
  }) as JobserverHandler;
  handler.activeRuns = () => runs.active;
  return handler;
}

/** The body, or 413 when it is larger than the protocol allows. */
async function readLimitedBody(req: ServiceRequest): Promise<Uint8Array> {
  try {
    return await readBody(req, MAX_REQUEST_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new HttpError(JobserverStatus.payloadTooLarge, error.message);
    throw error;
  }
}

function checkedRouteChecksum(text: string): Checksum {
  try {
    return parseRouteChecksum(decodeURIComponent(text));
  } catch (error) {
    wireError(error);
  }
}
