/**
 * The jobserver's face of the job engine (STYLE.md §2; services-spec §4.7): each
 * `/run-transformation` request is a job submitted to the {@link Scheduler} with the
 * transformation checksum as dedupe key, so identical transformations in flight share one
 * execution whoever sends them, and a result in the cache completes the job without running.
 * A request's `member_id` names its job: soft-cancel and a disconnect cancel that job (the
 * engine kills the execution only when its last member is canceled); a hard cancel cancels
 * every member.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { os } from "../disk/lazy-node.ts";
import type { Checksum } from "../checksum/checksum.ts";
import { defaultJobSpec, type Job } from "../queue/job.ts";
import { Scheduler } from "../queue/scheduler.ts";
import { SqliteJobStore } from "../queue/sqlite-store.ts";
import { TransformationExecutor, type TransformationRunner } from "../queue/transformation-executor.ts";
import type { PoolJob, PoolResult } from "../queue/worker-pool.ts";
import type { CancelAnswer, TransformationStatus } from "../wire/jobserver.ts";

/** How a run ended, as one member sees it. */
export type RunOutcome =
  | { kind: "done"; checksum: Checksum; result: PoolResult | null }
  | { kind: "canceled" }
  | { kind: "failed"; message: string };

/** Options of {@link TransformationRuns.start}. */
export interface TransformationRunsOptions {
  runner: TransformationRunner;
  /** Executions at once (workers × jobs per worker). */
  parallel: number;
  /** A known result for a transformation checksum (whose buffer is available), or null. */
  lookupCached?: (tfChecksum: Checksum) => Promise<Checksum | null>;
}

/** How many finished transformations `/transformation-status` remembers. */
const REMEMBERED_STATUSES = 10_000;

/** Transformation runs on the engine. */
export class TransformationRuns {
  readonly #scheduler: Scheduler;
  readonly #executor: TransformationExecutor;
  readonly #store: SqliteJobStore;
  readonly #logDir: string;
  /** Transformation checksum → member id → job id, for runs in flight. */
  readonly #members = new Map<Checksum, Map<string, number>>();
  readonly #finished = new Map<Checksum, TransformationStatus>();
  readonly #lookupCached: TransformationRunsOptions["lookupCached"];

  private constructor(scheduler: Scheduler, executor: TransformationExecutor, store: SqliteJobStore, logDir: string, lookupCached: TransformationRunsOptions["lookupCached"]) {
    this.#lookupCached = lookupCached;
    this.#scheduler = scheduler;
    this.#executor = executor;
    this.#store = store;
    this.#logDir = logDir;
  }

  /** Starts the engine: an in-memory job store (a jobserver keeps no state across restarts). */
  static async start(options: TransformationRunsOptions): Promise<TransformationRuns> {
    const executor = new TransformationExecutor(options.runner);
    const store = SqliteJobStore.open({ path: ":memory:" });
    const logDir = mkdtempSync(join(process.env.TMPDIR || os().tmpdir(), "seamless-jobserver-"));
    const lookup = options.lookupCached;
    const scheduler = await Scheduler.start({
      store,
      executor,
      logDir,
      defaultParallel: options.parallel,
      lookupCached: lookup ? async (job) => {
        const result = job.dedupeKey ? await lookup(job.dedupeKey) : null;
        return result ? { resultChecksum: result } : null;
      } : undefined,
    });
    return new TransformationRuns(scheduler, executor, store, logDir, lookup);
  }

  /** Transformations queued or running. */
  get active(): number {
    return this.#members.size;
  }

  /**
   * Submits the transformation as `memberId`'s job and waits for its end.
   *
   * @param disconnected when it aborts, the member's job is canceled
   */
  async join(job: PoolJob, memberId: string, disconnected?: AbortSignal): Promise<RunOutcome> {
    const tf = job.tfChecksum;
    // A known result is answered before a job exists: a cache answer through the engine costs
    // three store transitions, ten times the lookup (BENCHMARKS.md). The engine still consults
    // the cache for jobs that reach it (a result may appear while they wait).
    if (this.#lookupCached && !this.#members.has(tf)) {
      const cached = await this.#lookupCached(tf);
      if (cached) {
        this.#remember(tf, "done");
        return { kind: "done", checksum: cached, result: null };
      }
    }
    const [submitted] = this.#scheduler.submit([{ ...defaultJobSpec(`transformation ${tf}`), workdir: "/", dedupeKey: tf, payload: job }]);
    const id = submitted!.id;
    let members = this.#members.get(tf);
    if (!members) this.#members.set(tf, (members = new Map()));
    this.#finished.delete(tf);
    members.set(memberId, id);
    const leave = () => this.#cancelJob(id);
    disconnected?.addEventListener("abort", leave, { once: true });
    try {
      const ended = await this.#scheduler.waitFor(id);
      return this.#outcomeOf(ended);
    } finally {
      disconnected?.removeEventListener("abort", leave);
      if (members.get(memberId) === id) members.delete(memberId);
      if (members.size === 0 && this.#members.get(tf) === members) this.#members.delete(tf);
    }
  }

  #outcomeOf(job: Job): RunOutcome {
    const tf = job.dedupeKey!;
    if (job.state === "succeeded") {
      this.#remember(tf, "done");
      const detail = this.#executor.detailOf(job.attachedTo ?? job.id);
      return { kind: "done", checksum: job.resultChecksum!, result: detail && "result" in detail ? detail.result : null };
    }
    if (job.state === "canceled") {
      this.#remember(tf, "canceled");
      return { kind: "canceled" };
    }
    this.#remember(tf, "failed");
    const detail = this.#executor.detailOf(job.attachedTo ?? job.id);
    return { kind: "failed", message: detail && "message" in detail ? detail.message : `Transformation ${tf} ${job.state}: ${job.reason ?? "no reason given"}` };
  }

  #cancelJob(id: number): boolean {
    try {
      this.#scheduler.cancel(id);
      return true;
    } catch {
      return false; // ended meanwhile
    }
  }

  /** The status of a transformation (services-spec §4.7). */
  status(tf: Checksum): TransformationStatus {
    if (this.#members.has(tf)) return "running";
    return this.#finished.get(tf) ?? "not-running";
  }

  /** Hard cancel: every member's job is canceled, so the execution is killed. */
  cancel(tf: Checksum): CancelAnswer {
    const members = this.#members.get(tf);
    if (!members) return { canceled: false, status: this.status(tf) };
    this.#members.delete(tf);
    this.#remember(tf, "canceled");
    let canceled = false;
    for (const id of members.values()) canceled = this.#cancelJob(id) || canceled;
    return { canceled, status: "canceled" };
  }

  /** Cancels one member's job; the execution ends only when no member remains. Unknown ids do nothing. */
  softcancel(tf: Checksum, memberId: string): CancelAnswer {
    const members = this.#members.get(tf);
    const id = members?.get(memberId);
    if (!members || id === undefined) return { canceled: false, status: this.status(tf) };
    members.delete(memberId);
    if (!this.#cancelJob(id)) return { canceled: false, status: this.status(tf) };
    if (members.size > 0) return { canceled: false, status: "running" };
    this.#members.delete(tf);
    this.#remember(tf, "canceled");
    return { canceled: true, status: "canceled" };
  }

  /** Stops the engine: every execution is killed. */
  async close(): Promise<void> {
    for (const tf of [...this.#members.keys()]) this.cancel(tf);
    await this.#scheduler.stop();
    this.#store.close();
    rmSync(this.#logDir, { recursive: true, force: true });
  }

  #remember(tf: Checksum, status: TransformationStatus): void {
    this.#finished.delete(tf);
    this.#finished.set(tf, status);
    if (this.#finished.size > REMEMBERED_STATUSES) this.#finished.delete(this.#finished.keys().next().value!);
  }
}
