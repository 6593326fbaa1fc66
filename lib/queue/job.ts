/**
 * Jobs: their states, what a submitter asks for, and the named transitions between states.
 * Every state change in the engine goes through one entry of {@link TRANSITIONS}, so the set of
 * legal moves is written once and checked by the store inside the transition's transaction.
 * @module
 */

// The job model that crosses the wire is defined with its codec (lib/wire/queue.ts), below the
// engine, so that the codec depends on nothing above it; the engine re-exports it.
export { JOB_STATES, type Dependency, type DependencyCondition, type Job, type JobSpec, type JobState } from "../wire/queue.ts";
import type { Job, JobSpec, JobState } from "../wire/queue.ts";

/** States a job never leaves. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "timeout", "canceled", "interrupted", "dead"]);

/** Whether a job in this state is finished for good. */
export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
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
