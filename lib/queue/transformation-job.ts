/**
 * Transformation jobs: a queued `seamless run` (issue 21 §2). At submit the command is prepared
 * exactly as `seamless run` prepares it (inputs hashed and stored, transformation checksum);
 * the job's payload is then the SUBMIT record of the queue file (cli-spec §7), so a job from
 * `seamless queue submit`, from `POST /jobs` and from a `.seamless-queue` file run the same way:
 * compute (or answer from the result cache), then place results in the job's workdir.
 * @module
 */
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { resolveConfig, type SeamlessConfig } from "../config/mod.ts";
import { openBufferStoreFor, openResultCacheFor } from "../delegation/mod.ts";
import type { BufferStore } from "../buffers/store.ts";
import { computeTransformation, lockDirOf } from "../execute/compute.ts";
import { FutureFiles } from "../execute/futures.ts";
import { formatCapturedStdout, writeResultTargets } from "../execute/results.ts";
import { storePreparedBuffers } from "../execute/run-bash.ts";
import { SeamlessError } from "../errors.ts";
import type { ResultTargets } from "../transformation/bash-code.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import type { BashRunRequest, PreparedBash } from "../transformation/prepare-bash.ts";
import { prepareCommand } from "../execute/prepare-command.ts";
import { holdBufferLease, type BufferLease } from "../gc/lease.ts";
import { cacheStoreOf } from "../gc/plan.ts";
import { membersOfIndexBuffer, pinsOfTransformationBuffer } from "../gc/_references.ts";
import { withRunLog, type RunContext } from "../runlog/record.ts";
import type { Computed } from "../execute/compute.ts";
import type { ResultCache } from "../cache/store.ts";
import { SILENT_LOG, createLog, type Log } from "../log.ts";

/** The SUBMIT record of cli-spec §7 (key order as Python writes it). */
export interface SubmitRecord {
  queue_command: "SUBMIT";
  original_command: string;
  transformation_checksum: Checksum;
  transformation_dict: TransformationDict;
  /** `{server: local|null}`; null (our extension) for stdout capture. */
  result_targets: Record<string, string | null> | null;
  params: {
    undo: boolean;
    scratch: boolean;
    workdir: string;
    download: boolean;
    auto_confirm: "yes" | "no";
    capture_stdout: boolean;
    max_download_size: number;
    max_download_files: number;
  };
}

/** The params keys every SUBMIT record must have (a record without one is "Malformed command"). */
export const SUBMIT_PARAM_KEYS = ["undo", "scratch", "workdir", "download", "auto_confirm", "capture_stdout", "max_download_size", "max_download_files"] as const;

/** The flags of `seamless run` that a queued command gets when none are given. */
export function defaultBashRunRequest(command: string, workdir: string): BashRunRequest {
  return {
    command, workdir, cwd: workdir, rootMode: false, rules: { rule1: true, rule2: true }, mappingMode: "literal", primary: 1,
    inputs: [], inputFiles: [], metafiles: [], vars: [], metavars: [], prologues: [], captures: [], directPrint: false,
  };
}

export { prepareCommand } from "../execute/prepare-command.ts";

/** The SUBMIT record of a prepared transformation (cli-spec §7). */
export function submitRecordOf(prepared: PreparedBash, originalCommand: string, params: Partial<SubmitRecord["params"]> & { workdir: string }): SubmitRecord {
  return {
    queue_command: "SUBMIT",
    original_command: originalCommand,
    transformation_checksum: prepared.tfChecksum,
    transformation_dict: prepared.dict,
    result_targets: prepared.resultTargets ? Object.fromEntries(prepared.resultTargets) : null,
    // Key order as Python writes it (cli-spec §7).
    params: {
      undo: params.undo ?? false,
      scratch: params.scratch ?? false,
      workdir: params.workdir,
      download: params.download ?? true,
      auto_confirm: params.auto_confirm ?? "no",
      capture_stdout: params.capture_stdout ?? prepared.captureStdout,
      max_download_size: params.max_download_size ?? 500_000_000,
      max_download_files: params.max_download_files ?? 2000,
    },
  };
}

/**
 * Prepares a queued command: hashes and stores its inputs and returns the job's payload and
 * dedupe key. The key covers the workdir and the targets as well as the transformation, because
 * members of one execution share its placed results; identical transformations elsewhere are
 * still computed once (the result cache and its single-flight lock).
 */
export async function prepareTransformationJob(
  command: string, workdir: string, cacheDir: string, log: Log,
): Promise<{ payload: SubmitRecord; dedupeKey: string; lease: BufferLease }> {
  const prepared = await prepareCommand(defaultBashRunRequest(command, workdir), cacheDir, log);
  // Held before the buffers are stored, so that gc cannot take them before the job is submitted
  // (the caller releases it once the job holds its own lease).
  const lease = holdBufferLease(cacheDir, [prepared.tfChecksum, ...prepared.buffers.keys()]);
  try {
    await storePreparedBuffers(prepared, configOfJob(workdir), SILENT_LOG);
  } catch (error) {
    lease.release();
    throw error;
  }
  const payload = submitRecordOf(prepared, command, { workdir, auto_confirm: "yes" });
  return { payload, dedupeKey: dedupeKeyOf(payload), lease };
}

/**
 * The configuration a job runs under: the daemon's environment and the seamless.yaml of the
 * job's workdir, as `seamless run` in that directory would resolve it.
 */
function configOfJob(workdir: string): SeamlessConfig {
  return resolveConfig(process.env, workdir);
}

/** The dedupe key of a transformation job. */
export function dedupeKeyOf(record: SubmitRecord): string {
  return computeChecksum(JSON.stringify([record.transformation_checksum, record.params.workdir, record.result_targets, record.params.scratch]));
}

/** Where a job's messages and captured output go. */
export interface TransformationJobIo {
  writeStdout(data: string | Uint8Array): void;
  writeStderr(text: string): void;
}

/** A job's messages: bare lines into its stderr (its log), at the default verbosity. */
function logOf(io: TransformationJobIo): Log {
  return createLog({ write: (text) => io.writeStderr(text) });
}

function targetsOf(record: SubmitRecord): ResultTargets | null {
  return record.result_targets ? Object.entries(record.result_targets) : null;
}

async function placeResult(record: SubmitRecord, store: BufferStore, resultBuffer: Uint8Array | undefined, checksum: Checksum, io: TransformationJobIo): Promise<void> {
  const targets = targetsOf(record);
  const buffer = resultBuffer ?? (await store.get(checksum)) ?? undefined;
  if (!buffer) {
    if (record.params.scratch) return;
    throw new SeamlessError(`Cannot download result ${checksum}`);
  }
  if (!targets) {
    io.writeStdout(formatCapturedStdout(buffer));
    return;
  }
  await writeResultTargets(buffer, targets, {
    store, workdir: record.params.workdir, download: record.params.download && !record.params.scratch, scratch: record.params.scratch,
    log: logOf(io),
  });
}

/**
 * Runs a SUBMIT record: compute (or answer from cache), then place the results in its workdir.
 *
 * @returns the result checksum
 * @throws {TransformationFailedError} when the command fails
 */
export async function runSubmitRecord(record: SubmitRecord, cacheDir: string, io: TransformationJobIo, signal?: AbortSignal): Promise<Checksum> {
  return withRunLog(runContextOf(record, cacheDir), (onComputed) => computeSubmitRecord(record, cacheDir, io, onComputed, signal));
}

/** The run-log context of a queued job: logged as `seamless run` logs, with source "queue". */
function runContextOf(record: SubmitRecord, cacheDir: string): RunContext {
  return {
    cacheDir, command: record.original_command, source: "queue", cwd: record.params.workdir, tfChecksum: record.transformation_checksum,
    startMs: performance.now(),
  };
}

async function computeSubmitRecord(
  record: SubmitRecord, cacheDir: string, io: TransformationJobIo, onComputed: ((computed: Computed) => void) | undefined, signal: AbortSignal | undefined,
): Promise<Checksum> {
  const config = configOfJob(record.params.workdir);
  const store = await openBufferStoreFor(config);
  const cache = await openResultCacheFor(config);
  const futures = new FutureFiles();
  try {
    const targets = targetsOf(record);
    // cli-spec §3.18: every queue job with targets announces them as .FUTURE files while it runs.
    if (targets) {
      futures.start(targets.map(([server, local]) => ({
        path: join(record.params.workdir, `${local ?? server}.FUTURE`), content: `${record.transformation_checksum}.${server}\n`,
      })));
    }
    const computed = await computeTransformation(record.transformation_dict, record.transformation_checksum, {
      store, cache, lockDir: lockDirOf(cacheDir), scratch: record.params.scratch, onComputed, signal,
      onStdoutLine: (line) => targets && io.writeStdout(`${line}\n`),
      onStderr: (chunk) => io.writeStderr(chunk),
      log: logOf(io),
    });
    await placeResult(record, store, computed.buffer, computed.checksum, io);
    return computed.checksum;
  } finally {
    futures.release();
    cache.close();
    store.close();
  }
}

/**
 * Answers a transformation job from the result cache without running anything: when the
 * result is known and its buffer present, places it and returns its checksum; else null.
 */
export async function answerSubmitRecordFromCache(record: SubmitRecord, cacheDir: string, io: TransformationJobIo): Promise<Checksum | null> {
  const config = configOfJob(record.params.workdir);
  const cache = await openResultCacheFor(config);
  let checksum: Checksum | null;
  let recordedWallSeconds: number | null = null;
  try {
    checksum = await cache.getResult(record.transformation_checksum);
    if (checksum) recordedWallSeconds = await recordedWallSecondsOf(cache, record.transformation_checksum);
  } finally {
    cache.close();
  }
  if (!checksum) return null;
  const store = await openBufferStoreFor(config);
  try {
    const [present] = await store.has([checksum]);
    if (!present) return null;
    const context = runContextOf(record, cacheDir);
    await placeResult(record, store, undefined, checksum, io);
    // Only an answer is logged: a miss (or a result that cannot be placed) goes on to run, and
    // the run logs itself.
    const found = checksum;
    await withRunLog(context, async (onComputed) => onComputed?.({ checksum: found, fromCache: true, how: "cache hit", recordedWallSeconds }));
    return checksum;
  } catch {
    return null;
  } finally {
    store.close();
  }
}

/** The wall time of a cached result's execution record (what a hit saves), when known. */
async function recordedWallSecondsOf(cache: ResultCache, tfChecksum: Checksum): Promise<number | null> {
  try {
    const wall = (await cache.getExecutionRecord(tfChecksum))?.wall_time_seconds;
    return typeof wall === "number" ? wall : null;
  } catch {
    return null;
  }
}

/**
 * Holds the buffers a queued job needs (its transformation, code, inputs and the members of its
 * directory inputs) against `seamless gc` until released. The lease names this process, so a
 * daemon that dies drops it with it.
 */
export function holdJobLease(record: SubmitRecord, cacheDir: string): BufferLease {
  const dictBytes = Buffer.from(JSON.stringify(record.transformation_dict));
  const pins = pinsOfTransformationBuffer(dictBytes);
  const checksums = new Set<Checksum>([record.transformation_checksum]);
  const store = cacheStoreOf(cacheDir);
  for (const pin of pins) {
    checksums.add(pin.checksum);
    if (!pin.directory) continue;
    let index: Uint8Array | null = null;
    try {
      index = store.getSync(pin.checksum);
    } catch {}
    if (index) for (const member of membersOfIndexBuffer(index)) checksums.add(member);
  }
  return holdBufferLease(cacheDir, [...checksums]);
}

/** Whether a job payload is a SUBMIT record. */
export function isSubmitRecord(payload: unknown): payload is SubmitRecord {
  const record = payload as SubmitRecord | null;
  return !!record && record.queue_command === "SUBMIT" && typeof record.transformation_checksum === "string" && !!record.params;
}

/** The queue's directory inside a cache directory. */
export function queueDirOf(cacheDir: string): string {
  return join(cacheDir, "queue");
}
