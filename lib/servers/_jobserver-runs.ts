/**
 * Runs of the jobserver with their members (services-spec §4.7): identical transformations
 * in flight share one run, whoever sends them; each request is a member; a run is canceled by
 * a hard cancel, or when its last member soft-cancels or disconnects.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { CancelAnswer, TransformationStatus } from "../wire/jobserver.ts";
import { JobCanceledError, type PoolJob, type PoolResult } from "../queue/worker-pool.ts";

/** Whatever executes a job: the worker pool, or the queue engine in front of it. */
export interface TransformationExecutor {
  run(job: PoolJob, signal: AbortSignal): Promise<PoolResult>;
}

/** How a run ended, as every member sees it. */
export type RunOutcome =
  | { kind: "done"; result: PoolResult }
  | { kind: "canceled" }
  | { kind: "failed"; message: string };

interface Run {
  members: Set<string>;
  controller: AbortController;
  outcome: Promise<RunOutcome>;
}

/** How many finished transformations `/transformation-status` remembers. */
const REMEMBERED_STATUSES = 10_000;

/** The runs in flight, keyed by transformation checksum. */
export class TransformationRuns {
  readonly #executor: TransformationExecutor;
  readonly #runs = new Map<Checksum, Run>();
  readonly #finished = new Map<Checksum, TransformationStatus>();

  constructor(executor: TransformationExecutor) {
    this.#executor = executor;
  }

  /** Runs in flight. */
  get active(): number {
    return this.#runs.size;
  }

  /**
   * Joins the run of `job.tfChecksum` as `memberId`, starting it if none is in flight.
   *
   * @param disconnected when it aborts, the member leaves (and the run is canceled if it was the last)
   */
  join(job: PoolJob, memberId: string, disconnected?: AbortSignal): Promise<RunOutcome> {
    const tf = job.tfChecksum;
    let run = this.#runs.get(tf);
    if (!run) {
      const controller = new AbortController();
      const fresh: Run = {
        members: new Set(),
        controller,
        outcome: this.#executor.run(job, controller.signal).then(
          (result): RunOutcome => ({ kind: "done", result }),
          (error): RunOutcome => (error instanceof JobCanceledError || controller.signal.aborted ? { kind: "canceled" } : { kind: "failed", message: (error as Error)?.message ?? String(error) }),
        ).then((outcome) => {
          if (this.#runs.get(tf) === fresh) this.#runs.delete(tf);
          this.#remember(tf, outcome.kind === "done" ? "done" : outcome.kind);
          return outcome;
        }),
      };
      run = fresh;
      this.#runs.set(tf, run);
      this.#finished.delete(tf);
    }
    run.members.add(memberId);
    if (disconnected) {
      const leave = () => this.softcancel(tf, memberId);
      if (disconnected.aborted) leave();
      else {
        disconnected.addEventListener("abort", leave, { once: true });
        void run.outcome.then(() => disconnected.removeEventListener("abort", leave));
      }
    }
    return run.outcome;
  }

  /** The status of a transformation (services-spec §4.7). */
  status(tf: Checksum): TransformationStatus {
    if (this.#runs.has(tf)) return "running";
    return this.#finished.get(tf) ?? "not-running";
  }

  /** Hard cancel: the run ends for every member. */
  cancel(tf: Checksum): CancelAnswer {
    const run = this.#runs.get(tf);
    if (!run) return { canceled: false, status: this.status(tf) };
    this.#abort(tf, run);
    return { canceled: true, status: "canceled" };
  }

  /** Removes one member; the run is canceled only when no member remains. Unknown ids do nothing. */
  softcancel(tf: Checksum, memberId: string): CancelAnswer {
    const run = this.#runs.get(tf);
    if (!run || !run.members.delete(memberId)) return { canceled: false, status: this.status(tf) };
    if (run.members.size > 0) return { canceled: false, status: "running" };
    this.#abort(tf, run);
    return { canceled: true, status: "canceled" };
  }

  /** Cancels every run (server shutdown). */
  cancelAll(): void {
    for (const [tf, run] of [...this.#runs]) this.#abort(tf, run);
  }

  #abort(tf: Checksum, run: Run): void {
    // Gone at once, so that a new identical request starts a fresh run instead of joining a dying one.
    this.#runs.delete(tf);
    this.#remember(tf, "canceled");
    run.controller.abort();
  }

  #remember(tf: Checksum, status: TransformationStatus): void {
    this.#finished.delete(tf);
    this.#finished.set(tf, status);
    if (this.#finished.size > REMEMBERED_STATUSES) this.#finished.delete(this.#finished.keys().next().value!);
  }
}
