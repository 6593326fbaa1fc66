/**
 * The executor interface: how the engine runs one execution of a job. The local executor
 * spawns a process per job; a worker pool or remote pilot workers implement the same interface.
 * @module
 */
import type { Job } from "./job.ts";

/** Files of one execution, all beside each other: `<prefix>.log`, `.exit`, `.result`. */
export interface ExecutionFiles {
  /** stdout and stderr, interleaved as written. */
  log: string;
  /** Written by the job's shell on exit with its exit code (so a restarted daemon can read it). */
  exit: string;
  /** Where a transformation job writes its result checksum. */
  result: string;
}

/** The files of an execution from a path prefix such as `logs/42`. */
export function executionFilesOf(prefix: string): ExecutionFiles {
  return { log: `${prefix}.log`, exit: `${prefix}.exit`, result: `${prefix}.result` };
}

/** What the engine hands an executor. */
export interface ExecutionRequest {
  job: Job;
  files: ExecutionFiles;
  /** Aborted on cancel (or daemon stop): the executor kills everything the job started. */
  signal: AbortSignal;
  /** Kill the job after this long and report `timeout`; null: no limit. */
  timeoutMs: number | null;
  /**
   * Keep the execution's log within this cap while it runs (head and tail, `logs.ts`); the
   * engine caps it again when the execution ends. Absent: the default cap.
   */
  logCapBytes?: number;
  /** Called once the process exists, so its identity can be recorded for re-attaching. */
  onStarted?: (process: { pid: number; pidStartTime: string | null }) => void;
}

/**
 * How an execution ended.
 * - `exited`: the process ended by itself (`exitCode` set; 128+N when killed by signal N)
 * - `timeout`: killed at `timeoutMs`
 * - `canceled`: killed because `signal` was aborted
 * - `lost`: the process vanished without a trace (e.g. it died with a previous daemon)
 */
export interface ExecutionOutcome {
  status: "exited" | "timeout" | "canceled" | "lost";
  exitCode: number | null;
  resultChecksum: string | null;
  wallSeconds: number;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  /** The result was known without executing anything. */
  fromCache?: boolean;
  /** Why the executor could not run the job at all, when it could not. */
  error?: string;
}

/** Runs executions. */
export interface Executor {
  /** Runs one execution to its end; never rejects for a job's own failure. */
  execute(request: ExecutionRequest): Promise<ExecutionOutcome>;
  /**
   * Re-attaches to the process of a job that was running when a previous daemon died.
   * Returns its outcome when it ends (`exited` also when it ended while no daemon watched),
   * or `lost` when it is gone without an exit record.
   */
  reattach?(request: ExecutionRequest): Promise<ExecutionOutcome>;
  /**
   * Stops (SIGSTOP) or continues (SIGCONT) every process of a running execution, named by the
   * id of the job it runs for. Returns false when the executor cannot (or the job is not running).
   */
  suspend?(jobId: number, suspended: boolean): boolean;
  /** Stops accepting work; running executions are the engine's business. */
  close?(): Promise<void>;
}
