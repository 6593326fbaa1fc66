/**
 * The queue daemon: one {@link Scheduler} over the SQLite store in the cache directory, the
 * local executor, and the HTTP handler served with the shared conventions (port or range,
 * status file). Its address is published in `<queue dir>/daemon.json` for the CLI.
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { SeamlessError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { isTerminal, type Job, type JobSpec } from "../queue/job.ts";
import type { BufferLease } from "../gc/lease.ts";
import { LocalExecutor } from "../queue/local-executor.ts";
import { shellQuote } from "../execute/workspace.ts";
import { Scheduler } from "../queue/scheduler.ts";
import { SqliteJobStore } from "../queue/sqlite-store.ts";
import { answerSubmitRecordFromCache, holdJobLease, isSubmitRecord, prepareTransformationJob } from "../queue/transformation-job.ts";
import type { DecodedJobRequest, QueueDaemonStatus } from "../wire/queue.ts";
import { queuePathsOf } from "../queue/paths.ts";
import { createQueueHandler } from "./queue.ts";
import { serveService, type PortChoice, type RunningServer } from "./serve.ts";
import type { Log } from "../log.ts";

/** Where the daemon publishes its address for clients. */
export interface DaemonAddress {
  pid: number;
  url: string;
  /** File holding the bearer token, when the daemon requires one. */
  token_file: string | null;
  database: string;
}

/** Options of {@link startQueueDaemon}. */
export interface QueueDaemonOptions {
  cacheDir: string;
  queueDir: string;
  /** Parallel limit of the default group. */
  slots: number;
  host: string;
  port: PortChoice;
  statusFile?: string;
  /** File with the bearer token; one is generated when the host is not loopback and none is given. */
  tokenFile?: string;
  /** Ended jobs older than this are deleted (at start and hourly); 0 keeps them all. */
  retainSeconds?: number;
  /** How this binary is started again (to run transformation jobs). */
  selfCommand: string[];
  /** The daemon's voice. */
  log: Log;
  /** Stops the daemon when aborted (the CLI aborts it on SIGINT/SIGTERM/SIGHUP). */
  signal?: AbortSignal;
}


/** Ended jobs are kept 30 days unless `--retain` says otherwise. */
export const DEFAULT_RETAIN_SECONDS = 30 * 86400;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

function readToken(options: QueueDaemonOptions, tokenPath: string): { token: string | null; file: string | null } {
  if (options.tokenFile) {
    const token = readFileSync(options.tokenFile, "utf8").trim();
    if (token.length < 16) throw new SeamlessError(`Token file "${options.tokenFile}" must hold a token of at least 16 characters`);
    return { token, file: options.tokenFile };
  }
  if (LOOPBACK.has(options.host)) return { token: null, file: null };
  if (!existsSync(tokenPath)) writeFileAtomic(tokenPath, `${randomBytes(24).toString("hex")}\n`, 0o600);
  return { token: readFileSync(tokenPath, "utf8").trim(), file: tokenPath };
}

/**
 * Starts the daemon.
 *
 * @returns the running server
 * @throws {QueueDatabaseError} when the database is corrupt or held by another daemon
 */
export async function startQueueDaemon(options: QueueDaemonOptions): Promise<RunningServer & { scheduler: Scheduler }> {
  const paths = queuePathsOf(options.queueDir);
  const store = SqliteJobStore.open({ path: paths.database });
  const { token, file: tokenFile } = readToken(options, paths.token);
  const executor = new LocalExecutor({
    processOf: (job, files) => {
      if (job.plain || !isSubmitRecord(job.payload)) return { command: job.command, cwd: job.workdir, env: {} };
      const payloadPath = files.log.replace(/\.log$/, ".job.json");
      writeFileSync(payloadPath, JSON.stringify(job.payload));
      return { command: [...options.selfCommand, "queue", "run-job", payloadPath].map(shellQuote).join(" "), cwd: job.workdir, env: { SEAMLESS_CACHE: options.cacheDir } };
    },
  });
  // Each transformation job holds its buffers against `seamless gc` from submit to its end. The
  // leases name this process: a daemon that dies drops them, and the next one holds them again.
  const leases = new Map<number, BufferLease>();
  const trackLease = (job: Job) => {
    if (job.plain || !isSubmitRecord(job.payload)) return;
    if (isTerminal(job.state)) {
      leases.get(job.id)?.release();
      leases.delete(job.id);
    } else if (!leases.has(job.id)) {
      try {
        leases.set(job.id, holdJobLease(job.payload, options.cacheDir));
      } catch (error) {
        options.log.warn(`cannot hold the buffers of job ${job.id} against gc: ${(error as Error)?.message ?? error}`);
      }
      if (job.dedupeKey !== null) settle(job.dedupeKey);
    }
  };
  // The lease taken while a job is prepared, until the submitted job holds its own (or a minute,
  // should the submit fail).
  const preparing = new Map<string, BufferLease[]>();
  const handOver = (dedupeKey: string, lease: BufferLease) => {
    const list = preparing.get(dedupeKey) ?? [];
    list.push(lease);
    preparing.set(dedupeKey, list);
    setTimeout(() => settle(dedupeKey, lease), 60_000).unref?.();
  };
  const settle = (dedupeKey: string, lease?: BufferLease) => {
    const list = preparing.get(dedupeKey);
    if (!list) return;
    const index = lease ? list.indexOf(lease) : 0;
    if (index < 0) return;
    list.splice(index, 1)[0]!.release();
    if (list.length === 0) preparing.delete(dedupeKey);
  };
  const releaseLeases = () => {
    for (const list of preparing.values()) for (const lease of list) lease.release();
    preparing.clear();
    for (const lease of leases.values()) lease.release();
    leases.clear();
  };
  const scheduler = await Scheduler.start({
    store, executor, logDir: paths.logs, defaultParallel: options.slots, onChange: trackLease,
    lookupCached: async (job) => {
      if (!isSubmitRecord(job.payload)) return null;
      const log = scheduler.filesOf(job).log;
      const checksum = await answerSubmitRecordFromCache(job.payload, options.cacheDir, {
        writeStdout: (data) => writeFileSync(log, data, { flag: "a" }),
        writeStderr: (text) => writeFileSync(log, text, { flag: "a" }),
      });
      return checksum ? { resultChecksum: checksum } : null;
    },
  });
  for (const id of scheduler.activeIds()) trackLease(scheduler.getJob(id));
  const retainSeconds = options.retainSeconds ?? DEFAULT_RETAIN_SECONDS;
  const retain = () => {
    if (retainSeconds > 0) scheduler.clean(Date.now() - retainSeconds * 1000);
  };
  retain();
  const retention = setInterval(retain, 3600_000);
  retention.unref?.();
  const prepareJob = async (request: DecodedJobRequest): Promise<JobSpec> => {
    const workdir = request.workdir ?? process.cwd();
    const spec: JobSpec = {
      command: request.command, plain: request.plain, priority: request.priority, retries: request.retries, timeoutSeconds: request.timeoutSeconds,
      after: request.after, group: request.group, label: request.label, workdir, env: {}, dedupeKey: null, payload: null,
    };
    if (request.plain) return spec;
    const { payload, dedupeKey, lease } = await prepareTransformationJob(request.command, workdir, options.cacheDir, options.log);
    handOver(dedupeKey, lease);
    return { ...spec, payload, dedupeKey };
  };
  const status = (): QueueDaemonStatus => ({
    pid: process.pid, version: VERSION, mode: scheduler.mode, counts: scheduler.countByState(), groups: scheduler.groups(), database: paths.database,
  });
  let server: RunningServer | null = null;
  const stop = async () => {
    await scheduler.stop();
    await server?.stop();
  };
  const handler = createQueueHandler({ scheduler, prepareJob, token, status, onStop: () => void stop() });
  try {
    server = await serveService(handler, { host: options.host, port: options.port, statusFile: options.statusFile, log: options.log, signal: options.signal });
  } catch (error) {
    await scheduler.stop();
    releaseLeases();
    store.close();
    throw error;
  }
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const address: DaemonAddress = { pid: process.pid, url: `http://${host}:${server.port}`, token_file: tokenFile, database: paths.database };
  writeFileAtomic(paths.address, `${JSON.stringify(address)}\n`);
  const running = server;
  // The address goes last: a client that saw it vanish finds the database closed.
  void running.stopped.then(async () => {
    clearInterval(retention);
    await scheduler.stop();
    releaseLeases();
    store.close();
    rmSync(paths.address, { force: true });
  });
  return { port: running.port, stopped: running.stopped, stop, scheduler };
}
