/**
 * A pool of `seamless worker` processes, the executor behind `seamless jobserver`
 * (issue 22 §2, cli-spec §9).
 *
 * Picking order: a job goes to the live worker with the fewest running jobs (ties: the lowest
 * index) whose load is under the per-worker limit; when every worker is full the job waits,
 * and waiting jobs start in the order they came. A worker that dies is restarted; each job it
 * ran is retried once on another worker, then fails with a message that says so. Cancel (an
 * aborted signal) tells the worker to kill the job's process group and frees the slot at once;
 * the worker's other jobs go on.
 * @module
 */
import type { Subprocess } from "bun";
import { dirname, join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { SeamlessError } from "../errors.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { reapAbandonedTrees } from "../process/process-tree.ts";
import type { FromWorker, ToWorker, WorkerRuntime } from "./_worker-protocol.ts";
import type { Log } from "../log.ts";

export type { WorkerRuntime } from "./_worker-protocol.ts";

/** A job for the pool. */
export interface PoolJob {
  tfChecksum: Checksum;
  /** The transformation dict with its execution dunders (`__env__`, `__meta__`). */
  dict: Record<string, PlainValue>;
  scratch: boolean;
}

/** A finished job. */
export interface PoolResult {
  checksum: Checksum;
  runtime: WorkerRuntime;
  /** 1 when the job was retried after its worker died, else 0 (absent from other executors). */
  retries?: number;
}

/** The job was canceled through its signal. */
export class JobCanceledError extends SeamlessError {
  constructor(tfChecksum: Checksum) {
    super(`Canceled transformation ${tfChecksum}`);
  }
}

/** The job failed (its command failed, or its worker died twice). */
export class JobFailedError extends SeamlessError {}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  workers: number;
  /** Jobs one worker runs at once (Python: SEAMLESS_WORKER_TRANSFORMATION_THROTTLE, default 3). */
  perWorkerLimit: number;
  /** The command that starts one worker, e.g. `[execPath, "worker", "--hashserver", URL]`. */
  command: string[];
  env?: Record<string, string | undefined>;
  /** Says when a worker dies or cannot be restarted. */
  log: Log;
  /** Called when a job's command has started on a worker (for measurements). */
  onJobStarted?: (tfChecksum: Checksum, workerPid: number) => void;
}

interface Pending {
  id: number;
  job: PoolJob;
  attempts: number;
  /** The worker a retry must avoid. */
  avoid: number | null;
  worker: WorkerSlot | null;
  resolve: (result: PoolResult) => void;
  reject: (error: Error) => void;
  onAbort: () => void;
  signal?: AbortSignal;
  settled: boolean;
  /** The process group of the job's command, once it runs. */
  processGroup: number | null;
}

interface WorkerSlot {
  index: number;
  process: Subprocess | null;
  ready: boolean;
  jobs: Map<number, Pending>;
  restarts: number;
}

const READY_TIMEOUT_MS = 30_000;
/** When the processes of a dead worker's jobs are looked for a second time. */
const REAP_AGAIN_MS = 200;
const MAX_QUICK_RESTARTS = 5;

function killProcessGroup(processGroup: number): void {
  try {
    process.kill(-processGroup, "SIGKILL");
  } catch {}
}

/**
 * The command that starts a worker: this very binary with `worker`, or, when running from
 * source, the runtime with `cli/main.ts`.
 *
 * @param args the worker's own flags
 */
export function workerCommand(args: string[]): string[] {
  if (import.meta.path.startsWith("/$bunfs/")) return [process.execPath, "worker", ...args];
  return [process.execPath, join(dirname(import.meta.path), "..", "..", "cli", "main.ts"), "worker", ...args];
}

/** A pool of worker processes. Start it with {@link WorkerPool.start}. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #waiting: Pending[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    if (!(options.workers >= 1)) throw new SeamlessError("A worker pool needs at least one worker");
    this.#options = options;
  }

  /** Spawns the workers and waits until each is ready. @throws {SeamlessError} if one cannot start */
  async start(): Promise<void> {
    for (let index = 0; index < this.#options.workers; index++) {
      this.#slots.push({ index, process: null, ready: false, jobs: new Map(), restarts: 0 });
    }
    await Promise.all(this.#slots.map((slot) => this.#spawn(slot)));
  }

  /** Jobs running or waiting. */
  get activeJobs(): number {
    return this.#waiting.length + this.#slots.reduce((sum, slot) => sum + slot.jobs.size, 0);
  }

  /** Process ids of the live workers, by index (for tests and diagnostics). */
  get workerPids(): (number | null)[] {
    return this.#slots.map((slot) => (slot.ready ? slot.process?.pid ?? null : null));
  }

  /**
   * Runs a job on the least-loaded worker.
   *
   * @param job the transformation
   * @param signal aborting it cancels the job: its process group is killed, its slot freed
   * @returns the result checksum and the worker's measurements
   * @throws {JobCanceledError} when canceled; {@link JobFailedError} when the job failed
   */
  run(job: PoolJob, signal?: AbortSignal): Promise<PoolResult> {
    if (this.#closed) return Promise.reject(new SeamlessError("The worker pool is closed"));
    if (signal?.aborted) return Promise.reject(new JobCanceledError(job.tfChecksum));
    return new Promise<PoolResult>((resolve, reject) => {
      const pending: Pending = { id: this.#nextId++, job, attempts: 0, avoid: null, worker: null, resolve, reject, onAbort: () => this.#cancel(pending), signal, settled: false, processGroup: null };
      signal?.addEventListener("abort", pending.onAbort, { once: true });
      this.#waiting.push(pending);
      this.#dispatch();
    });
  }

  /** Stops every worker (their jobs' process groups die with them). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#waiting.splice(0)) this.#settle(pending, new SeamlessError("The worker pool was closed"));
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      for (const pending of slot.jobs.values()) this.#settle(pending, new SeamlessError("The worker pool was closed"));
      slot.jobs.clear();
      if (slot.process) {
        exits.push(slot.process.exited);
        try {
          slot.process.disconnect();
        } catch {}
        slot.process.kill("SIGTERM");
      }
    }
    await Promise.all(exits);
  }

  #spawn(slot: WorkerSlot): Promise<void> {
    slot.ready = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        child.kill("SIGKILL");
        reject(new SeamlessError(`Worker ${slot.index + 1} did not start within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      const child = Bun.spawn(this.#options.command, {
        env: this.#options.env as Record<string, string>,
        // Its own session: a Ctrl-C in the jobserver's terminal reaches the jobserver, which
        // stops the pool, not the workers one by one (they would be restarted while it stops).
        // A worker still ends when the pool goes away: its IPC channel closes.
        detached: true,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "inherit",
        ipc: (message: FromWorker) => {
          if (message.type === "ready") {
            slot.ready = true;
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              resolve();
            }
            this.#dispatch();
          } else this.#onMessage(slot, message);
        },
      });
      slot.process = child;
      void child.exited.then((code) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new SeamlessError(`Worker ${slot.index + 1} exited with code ${code} before it was ready`));
        }
        if (slot.process === child) this.#onWorkerDied(slot, child);
      });
    });
  }

  #onMessage(slot: WorkerSlot, message: FromWorker): void {
    if (message.type === "ready") return;
    const pending = slot.jobs.get(message.id);
    if (!pending) return; // canceled: its slot was already freed
    if (message.type === "started") {
      pending.processGroup = message.processGroup;
      this.#options.onJobStarted?.(pending.job.tfChecksum, slot.process?.pid ?? 0);
      return;
    }
    slot.jobs.delete(message.id);
    slot.restarts = 0;
    if (message.type === "done") this.#settle(pending, null, { checksum: message.checksum, runtime: message.runtime, retries: pending.attempts - 1 });
    else if (message.type === "failed") this.#settle(pending, new JobFailedError(message.message));
    else this.#settle(pending, new JobCanceledError(pending.job.tfChecksum));
    this.#dispatch();
  }

  #onWorkerDied(slot: WorkerSlot, child: Subprocess): void {
    slot.ready = false;
    slot.process = null;
    if (this.#closed) return;
    const how = child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
    const orphans = [...slot.jobs.values()];
    slot.jobs.clear();
    if (orphans.length > 0) this.#options.log.warn(`Worker ${slot.index + 1} (pid ${child.pid}) ${how} while running ${orphans.length} job(s)`);
    else this.#options.log.warn(`Worker ${slot.index + 1} (pid ${child.pid}) ${how}`);
    if (orphans.length > 0) {
      // A worker that died before it reported a job's process group leaves that job running:
      // its processes carry the dead worker's marker and are reaped by it, now and once more
      // for any caught mid-exec (lib/process/process-tree.ts).
      reapAbandonedTrees();
      setTimeout(reapAbandonedTrees, REAP_AGAIN_MS).unref?.();
    }
    for (const pending of orphans) {
      pending.worker = null;
      // The dead worker cannot kill its commands any more: no stray process is left behind.
      if (pending.processGroup) killProcessGroup(pending.processGroup);
      pending.processGroup = null;
      if (pending.attempts >= 2) {
        this.#settle(pending, new JobFailedError(`Transformation ${pending.job.tfChecksum} failed: its worker process ${how}, twice (retried once on another worker)`));
      } else {
        pending.avoid = slot.index;
        this.#waiting.unshift(pending);
      }
    }
    slot.restarts++;
    if (slot.restarts > MAX_QUICK_RESTARTS) {
      this.#options.log.warn(`Worker ${slot.index + 1} died ${slot.restarts} times in a row; not restarting it`);
      this.#failIfNoWorkers();
      this.#dispatch();
      return;
    }
    this.#spawn(slot).catch((error) => {
      this.#options.log.error(`Cannot restart worker ${slot.index + 1}: ${(error as Error).message}`);
      this.#failIfNoWorkers();
    });
    this.#dispatch();
  }

  #failIfNoWorkers(): void {
    if (this.#slots.some((slot) => slot.process !== null)) return;
    for (const pending of this.#waiting.splice(0)) this.#settle(pending, new JobFailedError("No worker process is left to run the transformation"));
  }

  /** Starts waiting jobs while a worker has room (the picking order is in the module doc). */
  #dispatch(): void {
    while (this.#waiting.length > 0) {
      const live = this.#slots.filter((slot) => slot.ready && slot.jobs.size < this.#options.perWorkerLimit);
      if (live.length === 0) return;
      const index = this.#waiting.findIndex((pending) => pending.avoid === null || live.some((slot) => slot.index !== pending.avoid) || this.#slots.length === 1);
      if (index < 0) return;
      const pending = this.#waiting.splice(index, 1)[0]!;
      const candidates = live.filter((slot) => slot.index !== pending.avoid);
      const pool = candidates.length > 0 ? candidates : live;
      let slot = pool[0]!;
      for (const other of pool) if (other.jobs.size < slot.jobs.size) slot = other;
      pending.attempts++;
      pending.worker = slot;
      slot.jobs.set(pending.id, pending);
      const message: ToWorker = { type: "run", id: pending.id, tfChecksum: pending.job.tfChecksum, dict: pending.job.dict, scratch: pending.job.scratch };
      try {
        slot.process!.send(message);
      } catch {
        // The worker is going away; its exit handler retries the job.
      }
    }
  }

  #cancel(pending: Pending): void {
    const waitingIndex = this.#waiting.indexOf(pending);
    if (waitingIndex >= 0) this.#waiting.splice(waitingIndex, 1);
    const slot = pending.worker;
    if (slot && slot.jobs.delete(pending.id)) {
      try {
        slot.process?.send({ type: "cancel", id: pending.id } satisfies ToWorker);
      } catch {}
    }
    this.#settle(pending, new JobCanceledError(pending.job.tfChecksum));
    this.#dispatch();
  }

  #settle(pending: Pending, error: Error | null, result?: PoolResult): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.signal?.removeEventListener("abort", pending.onAbort);
    pending.worker = null;
    if (error) pending.reject(error);
    else pending.resolve(result!);
  }
}
