/**
 * The scheduler: the one loop that owns job state. Every state change is a named transition
 * (job.ts) persisted by the store in one transaction before anything else happens; dispatch is
 * driven by events (submit, an execution ending, resume, a group change, a retry delay
 * expiring), never by a polling tick.
 *
 * **Picking order.** Each group has its own parallel limit and its own ready queue. A group
 * that is not paused, while fewer of its executions run than its limit, starts the ready job
 * with the highest `priority`; among equal priorities the lowest id (first submitted). A job is
 * ready when it is `queued`, not paused, past its retry delay (`notBefore`) and its
 * dependencies are met. Nothing starts while the queue is paused or draining.
 *
 * **Dedupe.** Jobs with the same `dedupeKey` share one execution: a job whose key is already
 * executing joins it without taking a slot (`attachedTo` names the job that runs it); when it
 * ends, every member gets its outcome. Canceling a member detaches it; the execution is killed
 * only when its last member is canceled. A key with a cached result (`lookupCached`) is
 * completed without executing anything.
 *
 * **Dependencies.** `success` waits for the other job to succeed, `any` for it to end,
 * `failure` for it to end other than succeeded. A dependency that can no longer be met fails
 * the dependant at once, with the reason. Jobs may only depend on jobs that already exist, so a
 * cycle cannot be formed; a dependency on an unknown id is refused at submit.
 *
 * **Retries.** A failed, timed-out or lost attempt is retried while `attempts <= retries`,
 * after `retryDelayMs` (exponential, jittered, capped). Out of attempts: `failed` (no retries
 * were asked), `dead` (all retries failed), `timeout` or `interrupted`.
 * @module
 */
import { join } from "node:path";
import { mkdirSync, rmSync } from "node:fs";
import { Heap } from "./_heap.ts";
import { IllegalTransitionError, InvalidJobError, JobNotFoundError } from "./errors.ts";
import { executionFilesOf, type ExecutionFiles, type ExecutionOutcome, type Executor } from "./executor.ts";
import { isTerminal, type Job, type JobPatch, type JobSpec, type TransitionName } from "./job.ts";
import { capLogFile, DEFAULT_LOG_CAP_BYTES } from "./logs.ts";
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "./retry.ts";
import type { GroupSettings, JobFilter, JobStore } from "./store.ts";

/** A result known without executing. */
export interface CachedResult {
  resultChecksum: string;
}

/** Options of {@link Scheduler.start}. */
export interface SchedulerOptions {
  store: JobStore;
  executor: Executor;
  /** Directory of the execution files (`<id>.log`, `<id>.exit`, `<id>.result`). */
  logDir: string;
  /** Parallel limit of the `default` group and of any group without settings. */
  defaultParallel: number;
  retryPolicy?: RetryPolicy;
  /** Cap of each job's log, kept while it runs and after (default {@link DEFAULT_LOG_CAP_BYTES}). */
  logCapBytes?: number;
  /** Looks up a job's result by its dedupe key; a hit completes the job without executing. */
  lookupCached?: (job: Job) => Promise<CachedResult | null>;
  /** Called after every transition, with the job as stored. */
  onChange?: (job: Job) => void;
}

interface Execution {
  key: string;
  leaderId: number;
  group: string;
  members: Set<number>;
  controller: AbortController;
  /** Set when the daemon stops: members go back to the queue untouched. */
  stopping: boolean;
}

interface GroupState extends GroupSettings {
  running: number;
  ready: Heap<Job>;
}

const runsBefore = (a: Job, b: Job) => a.priority > b.priority || (a.priority === b.priority && a.id < b.id);

/**
 * The job engine behind `seamless queue` and `seamless jobserver`.
 *
 * @example Submit a job and wait for it
 * ```ts
 * const scheduler = await Scheduler.start({ store: SqliteJobStore.open({ path: ":memory:" }), executor: new LocalExecutor(), logDir, defaultParallel: 2 });
 * const [job] = scheduler.submit([{ ...defaultJobSpec("echo hi"), plain: true }]);
 * assertEquals((await scheduler.waitFor(job.id)).state, "succeeded");
 * ```
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #store: JobStore;
  /** Jobs that are queued or running. */
  readonly #active = new Map<number, Job>();
  readonly #groups = new Map<string, GroupState>();
  readonly #executions = new Map<string, Execution>();
  readonly #executionOf = new Map<number, Execution>();
  /** Dedupe key → ids of ready jobs with that key, so they join an execution as soon as it starts. */
  readonly #readyByKey = new Map<string, Set<number>>();
  /** Dependency id → ids of the queued jobs waiting for it. */
  readonly #dependants = new Map<number, Set<number>>();
  readonly #retryTimers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #waiters = new Map<number, ((job: Job) => void)[]>();
  readonly #idleWaiters: (() => void)[] = [];
  #pausedAll = false;
  #draining = false;
  #stopped = false;
  #dispatchScheduled = false;

  private constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#store = options.store;
  }

  /**
   * Loads the active jobs of the store, re-attaches to executions a previous daemon left
   * running, and starts dispatching.
   *
   * @param options store, executor and limits
   * @returns the running scheduler
   */
  static async start(options: SchedulerOptions): Promise<Scheduler> {
    mkdirSync(options.logDir, { recursive: true });
    const scheduler = new Scheduler(options);
    for (const group of options.store.getGroups()) scheduler.#groupState(group.name, group);
    scheduler.#recover();
    scheduler.#scheduleDispatch();
    return scheduler;
  }

  #recover(): void {
    const active = this.#store.loadActiveJobs();
    for (const job of active) this.#active.set(job.id, job);
    const followers = new Map<number, number[]>();
    for (const job of active) {
      if (job.state === "running" && job.attachedTo !== null) {
        const list = followers.get(job.attachedTo) ?? [];
        list.push(job.id);
        followers.set(job.attachedTo, list);
      }
    }
    for (const job of active) {
      if (job.state !== "running" || job.attachedTo !== null) continue;
      const execution = this.#newExecution(job);
      for (const id of followers.get(job.id) ?? []) {
        execution.members.add(id);
        this.#executionOf.set(id, execution);
      }
      followers.delete(job.id);
      const reattach = this.#options.executor.reattach?.bind(this.#options.executor);
      const outcome: Promise<ExecutionOutcome> = reattach
        ? reattach({ job, files: this.#filesOf(job.id), signal: execution.controller.signal, timeoutMs: job.timeoutSeconds === null ? null : job.timeoutSeconds * 1000, logCapBytes: this.logCapBytes })
        : Promise.resolve({ status: "lost", exitCode: null, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null });
      void outcome.then((result) => this.#finishExecution(execution, result));
    }
    // Followers whose leader was not running any more: their execution is lost with it.
    for (const ids of followers.values()) {
      for (const id of ids) this.#endAttempt(this.#active.get(id)!, { status: "lost", exitCode: null, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null });
    }
    for (const job of active) if (job.state === "queued") this.#enqueue(job);
  }

  #filesOf(id: number): ExecutionFiles {
    return executionFilesOf(join(this.#options.logDir, String(id)));
  }

  /** The cap of every job's log (head and tail kept; `logs.ts`): where readers find the marker. */
  get logCapBytes(): number {
    return this.#options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
  }

  /** The execution files of a job (an attached job reads those of the job that runs it). */
  filesOf(job: Job): ExecutionFiles {
    return this.#filesOf(job.attachedTo ?? job.id);
  }

  #groupState(name: string, settings?: GroupSettings): GroupState {
    let group = this.#groups.get(name);
    if (!group) {
      group = { name, parallel: settings?.parallel ?? this.#options.defaultParallel, paused: settings?.paused ?? false, running: 0, ready: new Heap(runsBefore) };
      this.#groups.set(name, group);
    } else if (settings) {
      group.parallel = settings.parallel;
      group.paused = settings.paused;
    }
    return group;
  }

  #transition(job: Job, name: TransitionName, patch: JobPatch): Job {
    const updated = this.#store.transition(job.id, name, patch);
    if (isTerminal(updated.state)) this.#onTerminal(updated);
    else this.#active.set(updated.id, updated);
    this.#options.onChange?.(updated);
    return updated;
  }

  /**
   * Submits jobs (one store transaction for all of them) and dispatches.
   *
   * @param specs the jobs
   * @returns the stored jobs, in order, with their ids
   * @throws {InvalidJobError} when a dependency names an unknown job
   */
  submit(specs: JobSpec[]): Job[] {
    for (const spec of specs) {
      for (const dependency of spec.after) {
        if (!this.#active.has(dependency.id) && !this.#store.getJob(dependency.id)) {
          throw new InvalidJobError("after", `Cannot submit a job after job ${dependency.id}: no such job`);
        }
      }
    }
    const jobs = this.#store.insertJobs(specs, Date.now());
    for (const job of jobs) {
      this.#active.set(job.id, job);
      this.#options.onChange?.(job);
      this.#enqueue(job);
    }
    this.#scheduleDispatch();
    return jobs;
  }

  /** Places a queued job where it belongs: waiting on dependencies or a delay, or ready. */
  #enqueue(job: Job): void {
    if (job.state !== "queued") return;
    let waiting = false;
    for (const dependency of job.after) {
      const other = this.#active.get(dependency.id) ?? this.#store.getJob(dependency.id);
      if (!other) {
        // Deleted by `clean` since: how it ended is no longer known.
        this.#transition(job, "fail", { finishedAt: Date.now(), reason: `dependency not met: job ${dependency.id} no longer exists` });
        return;
      }
      if (!isTerminal(other.state)) {
        const set = this.#dependants.get(dependency.id) ?? new Set();
        set.add(job.id);
        this.#dependants.set(dependency.id, set);
        waiting = true;
        continue;
      }
      const met = dependency.on === "any" || (dependency.on === "success") === (other.state === "succeeded");
      if (!met) {
        const wanted = dependency.on === "success" ? "to succeed" : "to fail";
        this.#transition(job, "fail", { finishedAt: Date.now(), reason: `dependency not met: job ${other.id} ended ${other.state}, this job needed it ${wanted}` });
        return;
      }
    }
    if (waiting) return;
    if (job.notBefore !== null && job.notBefore > Date.now()) {
      if (!this.#retryTimers.has(job.id)) {
        this.#retryTimers.set(job.id, setTimeout(() => {
          this.#retryTimers.delete(job.id);
          const current = this.#active.get(job.id);
          if (current) this.#enqueue({ ...current, notBefore: null });
        }, job.notBefore - Date.now()));
      }
      return;
    }
    if (job.paused) return;
    if (job.dedupeKey !== null) {
      const shared = this.#executions.get(job.dedupeKey);
      if (shared && !shared.stopping && this.#mayStart()) {
        this.#attach(job, shared);
        return;
      }
      const set = this.#readyByKey.get(job.dedupeKey) ?? new Set();
      set.add(job.id);
      this.#readyByKey.set(job.dedupeKey, set);
    }
    this.#groupState(job.group).ready.push(job);
    this.#scheduleDispatch();
  }

  #mayStart(): boolean {
    return !this.#stopped && !this.#pausedAll && !this.#draining;
  }

  /** Joins a job to a running execution with its dedupe key; takes no slot. */
  #attach(job: Job, shared: Execution): void {
    shared.members.add(job.id);
    this.#executionOf.set(job.id, shared);
    this.#transition(job, "start", { attempts: job.attempts + 1, startedAt: Date.now(), attachedTo: shared.leaderId, notBefore: null });
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    queueMicrotask(() => {
      this.#dispatchScheduled = false;
      this.#dispatch();
    });
  }

  /** Starts ready jobs while slots are free, in the picking order of the module note. */
  #dispatch(): void {
    if (!this.#mayStart()) return;
    for (const group of this.#groups.values()) {
      if (group.paused) continue;
      while (group.running < group.parallel && group.ready.size > 0) {
        const candidate = group.ready.pop()!;
        const job = this.#active.get(candidate.id);
        // The heap holds stale entries of jobs canceled, paused or started since they were pushed.
        if (!job || job.state !== "queued" || job.paused || job.group !== group.name) continue;
        this.#startJob(job);
      }
    }
  }

  #newExecution(job: Job): Execution {
    const execution: Execution = {
      key: job.dedupeKey ?? `job:${job.id}`, leaderId: job.id, group: job.group, members: new Set([job.id]),
      controller: new AbortController(), stopping: false,
    };
    this.#executions.set(execution.key, execution);
    this.#executionOf.set(job.id, execution);
    this.#groupState(job.group).running++;
    return execution;
  }

  #startJob(job: Job): void {
    const sameKey = job.dedupeKey === null ? undefined : this.#readyByKey.get(job.dedupeKey);
    if (job.dedupeKey !== null) this.#readyByKey.delete(job.dedupeKey);
    const shared = job.dedupeKey === null ? undefined : this.#executions.get(job.dedupeKey);
    if (shared && !shared.stopping) {
      this.#attach(job, shared);
      return;
    }
    const execution = this.#newExecution(job);
    const started = this.#transition(job, "start", { attempts: job.attempts + 1, startedAt: Date.now(), attachedTo: null, notBefore: null, pid: null, pidStartTime: null });
    // Ready jobs with the same key join now, without waiting for a slot.
    for (const id of sameKey ?? []) {
      const other = this.#active.get(id);
      if (other && other.id !== job.id && other.state === "queued" && !other.paused) this.#attach(other, execution);
    }
    void this.#runExecution(execution, started);
  }

  async #runExecution(execution: Execution, job: Job): Promise<void> {
    let outcome: ExecutionOutcome;
    try {
      const cached = job.dedupeKey !== null && this.#options.lookupCached ? await this.#options.lookupCached(job) : null;
      if (cached) {
        outcome = { status: "exited", exitCode: 0, resultChecksum: cached.resultChecksum, wallSeconds: 0, cpuSeconds: 0, maxRssBytes: null, fromCache: true };
      } else {
        outcome = await this.#options.executor.execute({
          job,
          files: this.#filesOf(job.id),
          signal: execution.controller.signal,
          timeoutMs: job.timeoutSeconds === null ? null : job.timeoutSeconds * 1000,
          logCapBytes: this.logCapBytes,
          onStarted: ({ pid, pidStartTime }) => this.#store.setProcess(job.id, pid, pidStartTime),
        });
      }
    } catch (error) {
      // An executor that throws has failed to run the job; the job fails with the reason.
      outcome = { status: "exited", exitCode: 127, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null, error: (error as Error)?.message ?? String(error) };
    }
    this.#finishExecution(execution, outcome);
  }

  #finishExecution(execution: Execution, outcome: ExecutionOutcome): void {
    this.#executions.delete(execution.key);
    const group = this.#groupState(execution.group);
    group.running--;
    capLogFile(this.#filesOf(execution.leaderId).log, this.logCapBytes);
    for (const id of execution.members) {
      this.#executionOf.delete(id);
      const job = this.#active.get(id);
      if (!job || job.state !== "running") continue;
      if (execution.stopping) this.#transition(job, "requeue", { attempts: Math.max(0, job.attempts - 1), reason: "daemon stopped; requeued", pid: null, attachedTo: null });
      else this.#endAttempt(job, outcome);
    }
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  /** Applies the outcome of an attempt to one running job: success, retry or a terminal failure. */
  #endAttempt(job: Job, outcome: ExecutionOutcome): void {
    const now = Date.now();
    const measured: JobPatch = {
      finishedAt: now, exitCode: outcome.exitCode, resultChecksum: outcome.resultChecksum, wallSeconds: outcome.wallSeconds,
      cpuSeconds: outcome.cpuSeconds, maxRssBytes: outcome.maxRssBytes,
    };
    const error = outcome.error;
    if (outcome.status === "exited" && outcome.exitCode === 0) {
      this.#transition(job, "succeed", { ...measured, reason: outcome.fromCache ? "answered from cache" : null });
      return;
    }
    if (outcome.status === "canceled") {
      // Aborted without a cancel of this member (cannot happen today): treat as lost.
      outcome = { ...outcome, status: "lost" };
    }
    const reason = error
      ? `cannot execute: ${error}`
      : outcome.status === "timeout" ? `timed out after ${job.timeoutSeconds} s`
      : outcome.status === "lost" ? "its process vanished (daemon restart)"
      : `exit code ${outcome.exitCode}`;
    if (job.attempts <= job.retries) {
      const delay = retryDelayMs(job.attempts, this.#options.retryPolicy ?? DEFAULT_RETRY_POLICY);
      const requeued = this.#transition(job, "retry", { ...measured, finishedAt: null, notBefore: now + delay, reason: `attempt ${job.attempts} ${reason}; retrying`, pid: null, attachedTo: null });
      this.#enqueue(requeued);
      return;
    }
    const name: TransitionName = outcome.status === "timeout" ? "timeOut" : outcome.status === "lost" ? "interrupt" : job.retries > 0 ? "die" : "fail";
    this.#transition(job, name, { ...measured, reason });
  }

  #onTerminal(job: Job): void {
    this.#active.delete(job.id);
    const timer = this.#retryTimers.get(job.id);
    if (timer) (clearTimeout(timer), this.#retryTimers.delete(job.id));
    for (const wake of this.#waiters.get(job.id) ?? []) wake(job);
    this.#waiters.delete(job.id);
    const dependants = this.#dependants.get(job.id);
    this.#dependants.delete(job.id);
    for (const id of dependants ?? []) {
      const dependant = this.#active.get(id);
      if (dependant) this.#enqueue(dependant);
    }
  }

  #checkIdle(): void {
    if (this.#executions.size > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /**
   * Cancels a queued or running job. A running execution is killed when its last member is
   * canceled.
   *
   * @returns the canceled job
   * @throws {JobNotFoundError} for an unknown id
   * @throws {IllegalTransitionError} when the job has already ended
   */
  cancel(id: number): Job {
    const job = this.#active.get(id);
    if (!job) {
      const stored = this.#store.getJob(id);
      if (!stored) throw new JobNotFoundError(id);
      throw new IllegalTransitionError(id, "cancel", stored.state);
    }
    const execution = this.#executionOf.get(id);
    const canceled = this.#transition(job, "cancel", { finishedAt: Date.now(), reason: "canceled" });
    if (execution) {
      execution.members.delete(id);
      this.#executionOf.delete(id);
      if (execution.members.size === 0) execution.controller.abort();
    }
    return canceled;
  }

  /**
   * Holds jobs back: one job (a running one is stopped with SIGSTOP when it does not share its
   * execution), one group, or (no target) the whole queue; for a group or the queue, running
   * jobs go on and nothing new starts.
   *
   * @throws {JobNotFoundError} for an unknown id
   */
  pause(target: { id?: number; group?: string } = {}): void {
    this.#setPaused(target, true);
  }

  /** Undoes {@link pause} and dispatches. */
  resume(target: { id?: number; group?: string } = {}): void {
    this.#setPaused(target, false);
    this.#scheduleDispatch();
  }

  #setPaused(target: { id?: number; group?: string }, paused: boolean): void {
    if (target.id !== undefined) {
      const job = this.#active.get(target.id);
      if (!job) {
        if (!this.#store.getJob(target.id)) throw new JobNotFoundError(target.id);
        return;
      }
      if (job.state === "running") {
        // A running job is stopped (SIGSTOP) when it alone owns its execution; its timeout still counts.
        const execution = this.#executionOf.get(job.id);
        if (!execution || execution.members.size !== 1 || !this.#options.executor.suspend?.(execution.leaderId, paused)) return;
      }
      this.#store.setPaused(job.id, paused);
      const updated = { ...job, paused };
      this.#active.set(job.id, updated);
      if (!paused && updated.state === "queued") this.#enqueue(updated);
    } else if (target.group !== undefined) {
      const group = this.#groupState(target.group);
      group.paused = paused;
      this.#store.putGroup({ name: group.name, parallel: group.parallel, paused });
    } else {
      this.#pausedAll = paused;
      this.#draining = this.#draining && paused;
    }
  }

  /**
   * Sets a group's parallel limit (creating the group) and dispatches.
   *
   * @throws {InvalidJobError} when `parallel` is not a positive integer
   */
  setGroup(name: string, parallel: number): GroupSettings {
    if (!Number.isInteger(parallel) || parallel < 1) throw new InvalidJobError("parallel", `Parallel limit must be a positive integer, not ${parallel}`);
    const group = this.#groupState(name);
    group.parallel = parallel;
    this.#store.putGroup({ name, parallel, paused: group.paused });
    this.#scheduleDispatch();
    return { name, parallel, paused: group.paused };
  }

  /** Groups with their limits and how many executions each runs. */
  groups(): (GroupSettings & { running: number; ready: number })[] {
    return [...this.#groups.values()].map((g) => ({ name: g.name, parallel: g.parallel, paused: g.paused, running: g.running, ready: g.ready.size }));
  }

  /** Starts nothing new; resolves when no execution runs any more. */
  async drain(): Promise<void> {
    this.#draining = true;
    if (this.#executions.size === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Whether dispatch is paused or draining. */
  get mode(): "running" | "paused" | "draining" {
    return this.#draining ? "draining" : this.#pausedAll ? "paused" : "running";
  }

  /**
   * Resolves with the job once it has ended.
   *
   * @throws {JobNotFoundError} for an unknown id
   */
  async waitFor(id: number, signal?: AbortSignal): Promise<Job> {
    const active = this.#active.get(id);
    if (!active) {
      const stored = this.#store.getJob(id);
      if (!stored) throw new JobNotFoundError(id);
      return stored;
    }
    return new Promise<Job>((resolve, reject) => {
      const list = this.#waiters.get(id) ?? [];
      const wake = (job: Job) => resolve(job);
      list.push(wake);
      this.#waiters.set(id, list);
      signal?.addEventListener("abort", () => {
        const current = this.#waiters.get(id);
        if (current) this.#waiters.set(id, current.filter((w) => w !== wake));
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** Ids of the jobs that are queued or running. */
  activeIds(): number[] {
    return [...this.#active.keys()];
  }

  /**
   * A job by id.
   *
   * @throws {JobNotFoundError} for an unknown id
   */
  getJob(id: number): Job {
    const job = this.#active.get(id) ?? this.#store.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /** A page of jobs, newest first. */
  listJobs(filter: JobFilter): Job[] {
    return this.#store.listJobs(filter);
  }

  /** Counts per state (from the store). */
  countByState(): Record<string, number> {
    return this.#store.countByState();
  }

  /**
   * Deletes ended jobs that finished before `beforeMs`, with their execution files (unless an
   * active job still reads them as a member of the same execution); returns how many.
   */
  clean(beforeMs: number): number {
    const ids = this.#store.deleteFinished(beforeMs);
    const stillRead = new Set([...this.#active.values()].map((job) => job.attachedTo).filter((id) => id !== null));
    for (const id of ids) {
      if (stillRead.has(id)) continue;
      const files = this.#filesOf(id);
      for (const path of [files.log, files.exit, files.result, files.log.replace(/\.log$/, ".job.json")]) rmSync(path, { force: true });
    }
    return ids.length;
  }

  /**
   * Stops the scheduler: nothing new starts; running executions are killed and their jobs put
   * back in the queue untouched (`requeue`). Resolves when every execution has ended.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
    for (const execution of this.#executions.values()) {
      execution.stopping = true;
      execution.controller.abort();
    }
    if (this.#executions.size > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }
}
