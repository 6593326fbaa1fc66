/**
 * The job engine shared by `seamless queue` and `seamless jobserver` (STYLE.md §2, issue 21 §2,
 * issue 22): jobs with named state transitions ({@link TRANSITIONS}), a durable
 * {@link JobStore} ({@link SqliteJobStore}: WAL, one transaction per transition, schema
 * version, exclusive lock), the {@link Scheduler} (the one loop that owns state: priority then
 * FIFO per group, parallel limits, pause/resume/drain, dependencies, retries with backoff,
 * timeouts, cancel, dedupe of identical executions, cache answers, crash recovery), the
 * {@link Executor} interface and the {@link LocalExecutor} (process group per job, logs
 * straight to disk, re-attach after a daemon crash), and logs capped while they grow (`logs.ts`).
 *
 * Using it (what both faces do):
 * ```ts
 * const store = SqliteJobStore.open({ path: ":memory:" });          // or a file
 * const scheduler = await Scheduler.start({ store, executor: new LocalExecutor(), logDir, defaultParallel: 2,
 *   lookupCached: async (job) => null });                            // dedupeKey → known result
 * const [job] = scheduler.submit([{ ...defaultJobSpec("echo hi"), plain: true, dedupeKey: null }]);
 * const done = await scheduler.waitFor(job.id);                      // state, exitCode, resultChecksum
 * scheduler.cancel(id); scheduler.pause({ group }); scheduler.resume(); await scheduler.drain();
 * readLogChunk(scheduler.filesOf(job).log, offset, max, scheduler.logCapBytes); // by job-byte offset
 * await scheduler.stop(); store.close();
 * ```
 * Another executor (a worker pool, pilot workers) implements {@link Executor}: `execute()` gets
 * the job, its execution files, an `AbortSignal` (cancel: kill everything of the job) and a
 * timeout, and resolves with an {@link ExecutionOutcome} (`exited` with exit code and result
 * checksum, `timeout`, `canceled`, `lost`; wall/CPU/memory). The {@link LocalExecutor} runs
 * `processOf(job, files)` → `{ command, cwd, env }` with bash in its own process group.
 * The queue daemon's composition (store file, transformation jobs, HTTP) is
 * `servers/queue-daemon.ts`; the queue file of Python Seamless is `queue-file.ts` and
 * `queue-file-runner.ts`; transformation jobs are `transformation-job.ts` (not re-exported here:
 * they pull in the whole `seamless run` preparation).
 * @module
 */
export * from "./job.ts";
export * from "./errors.ts";
export * from "./store.ts";
export * from "./sqlite-store.ts";
export * from "./executor.ts";
export * from "./local-executor.ts";
export * from "./retry.ts";
export * from "./logs.ts";
export * from "./scheduler.ts";
export * from "./paths.ts";
export * from "./worker-pool.ts";
export * from "./worker-process.ts";
export * from "./transformation-executor.ts";
