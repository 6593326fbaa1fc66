/**
 * Computing a transformation: answer from the result cache when its buffer is present, else
 * execute once (single flight across processes), store the result and record it.
 * @module
 */
import { os } from "../disk/lazy-node.ts";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { parseIndexText } from "../checksum/sidecar.ts";
import type { ExecutionRecord } from "../cache/result-cache.ts";
import type { ResultCache } from "../cache/store.ts";
import { InterruptedError, SeamlessError } from "../errors.ts";
import type { Log } from "../log.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import { VERSION } from "../version.ts";
import { reapAbandonedTrees } from "../process/process-tree.ts";

/** Options of {@link computeTransformation}. */
export interface ComputeOptions {
  store: BufferStore;
  cache: ResultCache;
  lockDir: string;
  /** Do not store the result value (only its checksum is recorded). */
  scratch: boolean;
  onStdoutLine: (line: string) => void;
  onStderr?: (chunk: string) => void;
  /** Receives the `RESULT` file's bytes as an executing command writes them (not on a hit or a join). */
  onResultBytes?: (bytes: Uint8Array) => void;
  log: Log;
  /** Cancels the computation: a wait for the lock ends, the command is killed, nothing is cached. */
  signal?: AbortSignal;
  /** Kills the command after this long (a failure, nothing cached). */
  timeoutMs?: number;
  /** Told the outcome before it is returned (the run log listens here). */
  onComputed?: (computed: Computed) => void;
  /** Execute even when the result is cached (`seamless run --force`). */
  force?: boolean;
  /** Gives up waiting for an identical computation in another process after this long (default: while it lives). */
  lockWaitMs?: number;
  /**
   * `cache.getResult(tfChecksum)` already under way (started while the inputs were stored, so a
   * remote hit does not wait for one round trip after the other); used by the first lookup only.
   */
  cachedResult?: Promise<Checksum | null>;
}

/** The outcome of a computation. */
export interface Computed {
  checksum: Checksum;
  fromCache: boolean;
  /** The result buffer, when it was already read or produced (so callers need not read it again). */
  buffer?: Uint8Array;
  /** Executed here, found in the cache, or produced meanwhile by an identical run elsewhere. */
  how?: "executed" | "cache hit" | "joined";
  /** An execution's wall time and stderr. */
  execution?: { wallSeconds: number; stderr: string };
  /** From the cache: the wall time its execution record gives (what the hit saved). */
  recordedWallSeconds?: number | null;
}

/**
 * Whether a cached result is usable: its buffer is present and, for a directory result, every
 * member too. Returns false, or true, or the index buffer when it had to be read.
 */
async function resultIsPresent(store: BufferStore, checksum: Checksum, deep: boolean): Promise<boolean | Uint8Array> {
  // A remote result is read into memory on a hit anyway: one GET instead of /has, then GET.
  if (!deep && !store.local) return (await store.get(checksum)) ?? false;
  const [present] = await store.has([checksum]);
  if (!present) return false;
  if (!deep) return true;
  const buffer = await store.get(checksum);
  if (!buffer) return false;
  const members = Object.values(parseIndexText(Buffer.from(buffer).toString("utf8"), `result ${checksum}`));
  return (await store.has(members)).every(Boolean) ? buffer : false;
}

/**
 * The cached result of a transformation when its buffer (and, for a directory result, every
 * member) is in `store`; null otherwise, so that it is computed again.
 */
export async function lookupCachedResult(dict: TransformationDict, tfChecksum: Checksum, cache: ResultCache, store: BufferStore, cachedResult?: Promise<Checksum | null>): Promise<Computed | null> {
  const cached = await (cachedResult ?? cache.getResult(tfChecksum));
  if (!cached) return null;
  const deep = Array.isArray(dict.__output__) && dict.__output__[1] === "deepfolder";
  const present = await resultIsPresent(store, cached, deep);
  if (present === false) return null;
  return { checksum: cached, fromCache: true, buffer: present === true ? undefined : present };
}

/**
 * Computes a bash transformation.
 *
 * @throws {InterruptedError} when `options.signal` is aborted (every process of the command is killed, nothing cached)
 * @throws {TransformationFailedError} when the command fails (nothing cached)
 */
export async function computeTransformation(dict: TransformationDict, tfChecksum: Checksum, options: ComputeOptions): Promise<Computed> {
  const computed = await computeOnce(dict, tfChecksum, options);
  options.onComputed?.(computed);
  return computed;
}

async function computeOnce(dict: TransformationDict, tfChecksum: Checksum, options: ComputeOptions): Promise<Computed> {
  if (dict.__language__ !== "bash") throw new SeamlessError(`Cannot run a transformation in language "${String(dict.__language__)}": only bash is supported`);
  const lookup = async (how: "cache hit" | "joined"): Promise<Computed | null> => {
    if (options.force) return null;
    const cachedResult = how === "cache hit" ? options.cachedResult : undefined;
    // Only the run log needs what the hit saved: one more read, skipped otherwise, and for a
    // remote cache sent beside the result's buffer request rather than after it.
    let record: Promise<Record<string, unknown> | null> | undefined;
    const found = (cachedResult ?? options.cache.getResult(tfChecksum)).then((checksum) => {
      if (checksum && options.onComputed) {
        record = options.cache.getExecutionRecord(tfChecksum);
        record.catch(() => {}); // awaited below, or not needed when the buffer is missing
      }
      return checksum;
    });
    const hit = await lookupCachedResult(dict, tfChecksum, options.cache, options.store, found);
    if (!hit) return null;
    const wall = record ? (await record)?.wall_time_seconds : undefined;
    return { ...hit, how, recordedWallSeconds: typeof wall === "number" ? wall : null };
  };
  const hit = await lookup("cache hit");
  if (hit) return hit;

  // Only a miss executes: the executor, workspaces and the single-flight lock (~12 modules) are
  // loaded here, so that a cache hit does not pay for loading them.
  const [{ executeBashTransformation }, { acquireTransformationLock }, { reapAbandonedWorkspaces }] = await Promise.all([
    import("./execute-bash.ts"), import("./single-flight.ts"), import("./workspace.ts"),
  ]);
  const { signal } = options;
  const interrupted = () => new InterruptedError(`Canceled transformation ${tfChecksum}`);
  const lock = await acquireTransformationLock(options.lockDir, tfChecksum, { signal, maxWaitMs: options.lockWaitMs, log: options.log });
  if (!lock && signal?.aborted) throw interrupted();
  if (!lock) throw new SeamlessError(`Gave up waiting for transformation ${tfChecksum} in another process after ${(options.lockWaitMs ?? 0) / 1000} s`);
  try {
    const again = await lookup("joined");
    if (again) return again;
    if (signal?.aborted) throw interrupted();
    // What runs killed with SIGKILL left behind: their commands and their workspaces.
    reapAbandonedTrees();
    reapAbandonedWorkspaces();
    const started = Date.now();
    const result = await executeBashTransformation(dict, options.store, {
      onStdoutLine: options.onStdoutLine,
      onStderr: options.onStderr,
      onResultBytes: options.onResultBytes,
      onWarning: (text) => options.log.warn(text),
      signal,
      timeoutMs: options.timeoutMs,
      storeMember: options.scratch ? undefined : async (checksum, path) => {
        if (options.store.local) options.store.local.putFileSync(checksum, path);
        else await options.store.putFile(checksum, path);
      },
    }).catch((error) => {
      // Whatever the command was doing when it was canceled, the run says which transformation it gave up.
      throw signal?.aborted || error instanceof InterruptedError ? interrupted() : error;
    });
    if (signal?.aborted) throw interrupted();
    if (!options.scratch && result.buffer) await options.store.put(result.checksum, result.buffer);
    const record: ExecutionRecord = {
      schema_version: 1,
      tf_checksum: tfChecksum,
      result_checksum: result.checksum,
      seamless_version: VERSION,
      execution_mode: "process",
      remote_target: null,
      wall_time_seconds: result.outcome.wallSeconds,
      cpu_time_user_seconds: result.outcome.cpuUserSeconds,
      cpu_time_system_seconds: result.outcome.cpuSystemSeconds,
      memory_peak_bytes: result.outcome.maxRssBytes,
      gpu_memory_peak_bytes: null,
      hostname: os().hostname(),
      pid: process.pid,
      started_at: new Date(started).toISOString(),
      implementation: "seamless (TypeScript)",
    };
    if (options.force) await recordForcedResult(options.cache, tfChecksum, result.checksum, options.log);
    await recordResult(options.cache, tfChecksum, result.checksum, record);
    // A `seamless gc` between storing and recording may have taken an identical old buffer.
    if (!options.scratch && result.buffer && !(await options.store.has([result.checksum]))[0]) await options.store.put(result.checksum, result.buffer);
    options.log.message(1, "Transformation finished");
    return {
      checksum: result.checksum, fromCache: false, buffer: options.scratch ? undefined : result.buffer, how: "executed",
      execution: { wallSeconds: result.outcome.wallSeconds, stderr: result.outcome.stderr },
    };
  } finally {
    lock.release();
  }
}

/**
 * Writes a fresh result with its execution record (services-spec §3.4, §4.4 "Who writes the
 * database"). The record is write-once; when it is refused (an earlier run left another record,
 * or another result whose buffer is gone), the result entry is still made to point at this run.
 */
export async function recordResult(cache: ResultCache, tf: Checksum, result: Checksum, record: ExecutionRecord): Promise<void> {
  if (await cache.setExecutionRecord(tf, result, record)) return;
  if ((await cache.getResult(tf)) !== result) await cache.setResult(tf, result);
}

/**
 * `--force`: a new result that differs from the cached one moves the old one into
 * `irreproducible_transformation` (services-spec §3.4) before the new one is recorded.
 */
async function recordForcedResult(cache: ResultCache, tfChecksum: Checksum, resultChecksum: Checksum, log: Log): Promise<void> {
  const previous = await cache.getResult(tfChecksum);
  if (previous === null || previous === resultChecksum) return;
  await cache.markIrreproducible(tfChecksum, previous);
  log.warn(`The result differs from the cached one (${previous}): that one is recorded as irreproducible`);
}

/** Where single-flight locks live inside a cache directory. */
export function lockDirOf(cacheDir: string): string {
  return join(cacheDir, "locks");
}
