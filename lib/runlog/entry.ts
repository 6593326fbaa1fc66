/**
 * One run of the run log (issue 23 §1): our own record, not part of the Python schema.
 * @module
 */
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";

/** How a run ended. */
export type RunOutcome = "executed" | "cache hit" | "joined" | "failed" | "canceled";

/** Every outcome, in the order `seamless log` explains them. */
export const RUN_OUTCOMES: readonly RunOutcome[] = ["executed", "cache hit", "joined", "failed", "canceled"];

/** A run as appended to the journal and kept in the log. */
export interface RunEntry {
  /** Milliseconds since the epoch, at the end of the run. */
  timeMs: number;
  cwd: string;
  /** The command text as given (`seamless run`), or `run-transformation CHECKSUM`. */
  command: string;
  /** Which command recorded it: `run` or `run-transformation`. */
  source: string;
  tfChecksum: Checksum | null;
  resultChecksum: Checksum | null;
  outcome: RunOutcome;
  /** Wall time of the seamless process up to the end of the run. */
  elapsedMs: number;
  /** Wall time of the execution itself (executed runs). */
  executionMs: number | null;
  /** On a cache hit or a join: the wall time of the execution that made the result. */
  savedMs: number | null;
  /** The tail of the command's stderr (executed and failed runs), bounded. */
  stderr: string | null;
  /** The error message of a failed or canceled run, bounded. */
  error: string | null;
  pid: number;
}

/** A stored run: an entry with its id in the log. */
export interface StoredRun extends RunEntry {
  id: number;
}

/** Bytes of stderr kept per run: the tail, where the error usually is. */
export const STDERR_KEPT_BYTES = 16 * 1024;

/** The last `limit` characters of a text, marked when cut. */
export function tailOf(text: string | null | undefined, limit: number = STDERR_KEPT_BYTES): string | null {
  if (!text) return null;
  if (text.length <= limit) return text;
  return `[… ${text.length - limit} characters cut]\n${text.slice(text.length - limit)}`;
}

/** The run log's directory inside a cache directory (next to `stat-cache.sqlite`). */
export function runLogDirOf(cacheDir: string): string {
  return join(cacheDir, "run-log");
}

/** A run as `--json` prints it (snake_case, like the execution records). */
export function runToJson(run: StoredRun, withStderr = false): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: run.id, time: new Date(run.timeMs).toISOString(), cwd: run.cwd, command: run.command, source: run.source,
    tf_checksum: run.tfChecksum, result_checksum: run.resultChecksum, outcome: run.outcome, elapsed_ms: run.elapsedMs,
    execution_ms: run.executionMs, saved_ms: run.savedMs, error: run.error, pid: run.pid,
  };
  if (withStderr) json.stderr = run.stderr;
  return json;
}
