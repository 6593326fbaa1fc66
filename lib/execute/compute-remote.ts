/**
 * Delegation level 3 (services-spec §7.1, issue 22 §3): a transformation whose inputs are on
 * the buffer server is answered from the result cache, or sent to a jobserver with no total
 * timeout; the client then writes the result and its execution record to the result cache, as
 * the Python client does (services-spec §4.4 "Who writes the database").
 * @module
 */
import { os } from "../disk/lazy-node.ts";
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import type { ExecutionRecord } from "../cache/result-cache.ts";
import type { ResultCache } from "../cache/store.ts";
import { JobserverConnectionLostError, type JobserverClient } from "../clients/jobserver.ts";
import { executionDundersOf, type TransformationDict } from "../transformation/dict.ts";
import { VERSION } from "../version.ts";
import { lookupCachedResult, recordResult, type Computed } from "./compute.ts";
import type { Log } from "../log.ts";

/** Options of {@link computeOnJobserver}. */
export interface RemoteComputeOptions {
  jobserver: JobserverClient;
  /** The buffer server the jobserver reads inputs from and stores results on. */
  store: BufferStore;
  cache: ResultCache;
  scratch: boolean;
  /** Record mode of the configuration (the jobserver refuses a mismatch with 409). */
  record: boolean;
  /** Aborting it soft-cancels this client's membership of the run (Ctrl-C). */
  signal?: AbortSignal;
  log: Log;
}

/**
 * Computes a transformation on a jobserver.
 *
 * @throws {TransformationCanceledError} (exit 130) when canceled, here or on the server
 * @throws {RemoteError} with the server's text when the transformation fails there
 * @throws {JobserverConnectionLostError} when the jobserver is lost (a launched one: lost again after one relaunch)
 */
export async function computeOnJobserver(dict: TransformationDict, tfChecksum: Checksum, options: RemoteComputeOptions): Promise<Computed> {
  const hit = await lookupCachedResult(dict, tfChecksum, options.cache, options.store);
  if (hit) return hit;
  options.log.message(1, `Send transformation ${tfChecksum} to jobserver ${options.jobserver.location}`);
  const started = new Date();
  const request = { transformation_dict: dict, tf_checksum: tfChecksum, tf_dunder: executionDundersOf(dict), scratch: options.scratch, record: options.record };
  let jobserver = options.jobserver;
  let result;
  try {
    result = await jobserver.runTransformation(request, options.signal);
  } catch (error) {
    // A launched jobserver that died mid-job is launched again and the job resubmitted, once;
    // the first run left nothing in the result cache (only this client writes it).
    if (!(error instanceof JobserverConnectionLostError) || !jobserver.relaunch || options.signal?.aborted) throw error;
    options.log.message(0, `${(error as Error).message}; relaunching the jobserver and resubmitting once`);
    jobserver = await jobserver.relaunch();
    result = await jobserver.runTransformation(request, options.signal);
  }
  const runtime = result.runtime;
  const record: ExecutionRecord = {
    schema_version: 1,
    tf_checksum: tfChecksum,
    result_checksum: result.checksum,
    seamless_version: VERSION,
    execution_mode: "remote",
    remote_target: "jobserver",
    wall_time_seconds: runtime?.wall_time_seconds ?? (Date.now() - started.getTime()) / 1000,
    cpu_time_user_seconds: runtime?.cpu_user_seconds ?? 0,
    cpu_time_system_seconds: runtime?.cpu_system_seconds ?? 0,
    memory_peak_bytes: runtime?.memory_peak_bytes ?? null,
    gpu_memory_peak_bytes: runtime?.gpu_memory_peak_bytes ?? null,
    hostname: os().hostname(),
    started_at: runtime?.started_at ?? started.toISOString(),
    jobserver: jobserver.location,
    implementation: "seamless (TypeScript)",
  };
  await recordResult(options.cache, tfChecksum, result.checksum, record);
  options.log.message(1, "Transformation finished");
  return { checksum: result.checksum, fromCache: false };
}
