/**
 * The one call a command makes to log its run ({@link withRunLog}): it watches the run, and
 * when it ends (answered, failed or interrupted) appends one entry and, with `-v`, says how
 * the result came about.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { Computed } from "../execute/compute.ts";
import { InterruptedError } from "../errors.ts";
import { formatDuration } from "../units/duration.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { appendRun, type TransformationDetails } from "./append.ts";
import { tailOf, type RunEntry, type RunOutcome } from "./entry.ts";
import type { Log } from "../log.ts";

/** What is known of a run before it starts. */
export interface RunContext {
  cacheDir: string;
  /** The command text (`seamless run`) or `run-transformation CHECKSUM`. */
  command: string;
  source: "run" | "run-transformation" | "queue";
  cwd: string;
  /** When the run started (`performance.now()`); default the process start, as for a command. */
  startMs?: number;
  tfChecksum: Checksum;
  /** Builds the transformation's details for `seamless explain`; called only when not kept yet. */
  details?: () => TransformationDetails | null;
  /** Says the `-v` summary line (`executed in 3.1 s`) at level 1, when given. */
  log?: Log;
}

/** `SEAMLESS_RUN_LOG=off` (or `0`, `no`, `false`): no run log, for benchmarks and the cautious. */
export function runLogDisabled(env: Record<string, string | undefined> = process.env): boolean {
  const value = env.SEAMLESS_RUN_LOG?.trim().toLowerCase();
  return value === "off" || value === "0" || value === "no" || value === "false";
}

/** An interrupted run was canceled; any other error failed it. */
function outcomeOfError(error: unknown): RunOutcome {
  return error instanceof InterruptedError ? "canceled" : "failed";
}

/** The `-v` summary of a run. */
export function summaryOf(entry: RunEntry): string {
  switch (entry.outcome) {
    case "executed":
      return `executed in ${formatDuration((entry.executionMs ?? entry.elapsedMs) / 1000)}`;
    case "cache hit":
    case "joined": {
      const how = entry.outcome === "joined" ? "from an identical run in another process" : "from cache";
      return entry.savedMs === null ? how : `${how} (saved ${formatDuration(entry.savedMs / 1000)})`;
    }
    case "failed":
      return `failed after ${formatDuration(entry.elapsedMs / 1000)}`;
    case "canceled":
      return `canceled after ${formatDuration(entry.elapsedMs / 1000)}`;
  }
}

/**
 * Runs `body` and logs the run when it ends, however it ends; errors pass through unchanged.
 *
 * @param context what the run is
 * @param body the run; it reports the computation through the callback it receives
 * @returns what `body` returns
 * @throws whatever `body` throws
 */
export async function withRunLog<T>(context: RunContext, body: (onComputed: ((computed: Computed) => void) | undefined) => Promise<T>): Promise<T> {
  if (runLogDisabled()) return body(undefined);
  let computed: Computed | null = null;
  let error: unknown = null;
  let failed = false;
  try {
    return await body((c) => (computed = c));
  } catch (caught) {
    error = caught;
    failed = true;
    throw caught;
  } finally {
    const done = computed as Computed | null;
    // A command failing after its computation (say, writing a result target) still computed it.
    const outcome: RunOutcome = done ? done.how ?? (done.fromCache ? "cache hit" : "executed") : failed ? outcomeOfError(error) : "failed";
    const message = failed ? String((error as Error)?.message ?? error) : null;
    const entry: RunEntry = {
      timeMs: Date.now(),
      cwd: context.cwd,
      command: context.command,
      source: context.source,
      tfChecksum: context.tfChecksum,
      resultChecksum: done?.checksum ?? null,
      outcome,
      elapsedMs: Math.round((performance.now() - (context.startMs ?? 0)) * 1000) / 1000,
      executionMs: done?.execution ? Math.round(done.execution.wallSeconds * 1e6) / 1000 : null,
      savedMs: done && done.how !== "executed" && typeof done.recordedWallSeconds === "number" ? Math.round(done.recordedWallSeconds * 1e6) / 1000 : null,
      stderr: tailOf(done?.execution?.stderr ?? (done ? null : stderrOfFailure(error))),
      error: tailOf(message, 4096),
      pid: process.pid,
    };
    appendRun(context.cacheDir, entry, context.details);
    if (context.log && context.log.verbosity >= 1) context.log.message(1, summaryOf(entry));
  }
}

/** The stderr a failed transformation's error carries (`TransformationFailedError`), if any. */
function stderrOfFailure(error: unknown): string | null {
  const stderr = (error as { stderr?: unknown } | null)?.stderr;
  return typeof stderr === "string" && stderr !== "" ? stderr : null;
}

/**
 * The details of a prepared transformation: its dict and the texts of its code and `str` pins.
 *
 * @param dict the transformation dict
 * @param textOf the bytes of a buffer the transformation refers to, when at hand
 */
export function detailsOf(dict: Record<string, PlainValue>, textOf: (checksum: Checksum) => Uint8Array | undefined): TransformationDetails {
  const texts: Record<Checksum, string> = {};
  for (const [key, value] of Object.entries(dict)) {
    if (!Array.isArray(value) || value.length < 3 || typeof value[2] !== "string") continue;
    if (key !== "code" && value[0] !== "str") continue;
    const bytes = textOf(value[2]);
    if (!bytes || bytes.byteLength > 64 * 1024) continue;
    const text = Buffer.from(bytes).toString("utf8");
    try {
      // A `str` buffer is the JSON of the string (cli-spec §2): keep the value the user gave.
      texts[value[2]] = value[0] === "str" ? String(JSON.parse(text)) : text;
    } catch {
      texts[value[2]] = text;
    }
  }
  return { dict, texts };
}

/**
 * The run-log context of a `seamless run`: the prepared transformation gives the checksum,
 * the dict and the texts of its code and variables.
 *
 * @param cacheDir the cache directory
 * @param command the command text as given
 * @param prepared the prepared transformation (only these fields are read)
 * @param log says the `-v` summary line
 */
export function bashRunContext(
  cacheDir: string,
  command: string,
  prepared: { dict: Record<string, PlainValue>; tfChecksum: Checksum; buffers: Map<Checksum, { checksum: Checksum } & ({ bytes: Uint8Array } | { path: string })> },
  log?: Log,
): RunContext {
  return {
    cacheDir,
    command,
    source: "run",
    cwd: process.cwd(),
    tfChecksum: prepared.tfChecksum,
    details: () => detailsOf(prepared.dict, (checksum) => {
      const source = prepared.buffers.get(checksum);
      return source && "bytes" in source ? source.bytes : undefined;
    }),
    log,
  };
}
