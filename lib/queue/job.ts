/**
 * Jobs: their states, what a submitter asks for, and the named transitions between states.
 * Every state change in the engine goes through one entry of {@link TRANSITIONS}, so the set of
 * legal moves is written once and checked by the store inside the transition's transaction.
 * @module
 */

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

/** States a job never leaves. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "timeout", "canceled", "interrupted", "dead"]);

/** Whether a job in this state is finished for good. */
export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}

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

/** The named transitions and the states each may start from. */
export const TRANSITIONS = {
  /** A slot was given and a process started (or the job joined an identical execution). */
  start: { from: ["queued"], to: "running" },
  /** Ended with exit code 0, or answered from cache. */
  succeed: { from: ["queued", "running"], to: "succeeded" },
  /** Ended non-zero (or can never run) with no retries left. */
  fail: { from: ["queued", "running"], to: "failed" },
  /** Failed on its last retry. */
  die: { from: ["running"], to: "dead" },
  /** Hit its time limit with no retries left. */
  timeOut: { from: ["running"], to: "timeout" },
  /** Back to the queue for another attempt (after a failure, a timeout or a lost process). */
  retry: { from: ["running"], to: "queued" },
  /** Put back untouched (the daemon stopped under it); the attempt does not count. */
  requeue: { from: ["running"], to: "queued" },
  /** Its process vanished and no retries are left. */
  interrupt: { from: ["running"], to: "interrupted" },
  /** Canceled by a user. */
  cancel: { from: ["queued", "running"], to: "canceled" },
} as const satisfies Record<string, { from: readonly JobState[]; to: JobState }>;

/** The name of a transition. */
export type TransitionName = keyof typeof TRANSITIONS;

/** Fields a transition may set besides the state. */
export type JobPatch = Partial<Pick<Job,
  "attempts" | "notBefore" | "startedAt" | "finishedAt" | "exitCode" | "resultChecksum" | "wallSeconds" | "cpuSeconds" |
  "maxRssBytes" | "reason" | "pid" | "pidStartTime" | "attachedTo">>;

/** The defaults of `POST /jobs` (issue 21 §2). */
export function defaultJobSpec(command: string): JobSpec {
  return {
    command, plain: false, priority: 0, retries: 0, timeoutSeconds: null, after: [], group: "default", label: null,
    workdir: process.cwd(), env: {}, dedupeKey: null, payload: null,
  };
}
