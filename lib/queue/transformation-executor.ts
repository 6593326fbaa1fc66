/**
 * The engine's {@link Executor} for transformation jobs (issue 22): a job's payload is a
 * transformation, run by a {@link TransformationRunner} (the worker pool). What the engine's
 * job record cannot hold (the worker's separate user/system CPU times and timestamps, a failed
 * transformation's error text) is kept here by job id for the face that answers the client.
 * @module
 */
import type { ExecutionOutcome, ExecutionRequest, Executor } from "./executor.ts";
import { JobCanceledError, type PoolJob, type PoolResult } from "./worker-pool.ts";

/** Runs one transformation; the worker pool is one. */
export interface TransformationRunner {
  run(job: PoolJob, signal: AbortSignal): Promise<PoolResult>;
}

/** What one execution produced beyond the engine's outcome. */
export type TransformationDetail = { result: PoolResult } | { message: string };

/** How many execution details are kept (they are read right after the execution ends). */
const KEPT_DETAILS = 10_000;

/** Transformation jobs on a {@link TransformationRunner}. */
export class TransformationExecutor implements Executor {
  readonly #runner: TransformationRunner;
  readonly #details = new Map<number, TransformationDetail>();

  constructor(runner: TransformationRunner) {
    this.#runner = runner;
  }

  /** The details of the execution led by job `leaderId`, if it ran. */
  detailOf(leaderId: number): TransformationDetail | undefined {
    return this.#details.get(leaderId);
  }

  async execute(request: ExecutionRequest): Promise<ExecutionOutcome> {
    const job = request.job.payload as PoolJob;
    const none = { resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    try {
      const result = await this.#runner.run(job, request.signal);
      this.#keep(request.job.id, { result });
      const { runtime } = result;
      return {
        status: "exited", exitCode: 0, resultChecksum: result.checksum, wallSeconds: runtime.wallSeconds,
        cpuSeconds: runtime.cpuUserSeconds + runtime.cpuSystemSeconds, maxRssBytes: runtime.memoryPeakBytes,
      };
    } catch (error) {
      if (error instanceof JobCanceledError || request.signal.aborted) return { status: "canceled", exitCode: null, ...none };
      this.#keep(request.job.id, { message: (error as Error)?.message ?? String(error) });
      return { status: "exited", exitCode: 1, ...none };
    }
  }

  #keep(id: number, detail: TransformationDetail): void {
    this.#details.set(id, detail);
    if (this.#details.size > KEPT_DETAILS) this.#details.delete(this.#details.keys().next().value!);
  }
}
