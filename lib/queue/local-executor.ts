/**
 * The local executor: one process per execution, started in its own process group (session)
 * with stdout and stderr written straight to the log file, so the job survives a daemon crash
 * and a restarted daemon can re-attach to it. The job's shell records its exit code in the
 * `.exit` file on the way out.
 *
 * Killing (cancel, timeout) ends the whole tree with `process/process-tree.ts`: the process
 * group, the descendants, and escapees that left both (`setsid`, double forks), found by the
 * environment marker every process of the job inherits. The marker's owner is the job's own
 * root shell (`<pid>-<start ticks>-q`, set by the shell itself), not the daemon: a daemon that
 * dies does not make its running jobs "abandoned" for other processes' reaping, and a restarted
 * daemon rebuilds the marker from the pid and start time it stored.
 * @module
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isProcessAlive, killProcessTree, listProcessTree, processStartTicks, PROCESS_TREE_ENV, type ProcessTree } from "../process/process-tree.ts";
import type { Job } from "./job.ts";
import type { ExecutionOutcome, ExecutionRequest, Executor, ExecutionFiles } from "./executor.ts";
import { DEFAULT_LOG_CAP_BYTES, LOG_TRIM_BUSY_INTERVAL_MS, LOG_TRIM_INTERVAL_MS, trimLogFile } from "./logs.ts";

/** What to run for a job: a bash command line. */
export interface ProcessSpec {
  command: string;
  cwd: string;
  env: Record<string, string | undefined>;
}

/** Options of {@link LocalExecutor}. */
export interface LocalExecutorOptions {
  /**
   * Builds the process of a job. The default runs `job.command` in `job.workdir`; the queue
   * daemon runs transformation jobs through the seamless binary instead.
   */
  processOf?: (job: Job, files: ExecutionFiles) => ProcessSpec;
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** The environment jobs inherit (default: this process's). */
  baseEnv?: Record<string, string | undefined>;
}

/** Environment variable naming the file the job's shell writes its exit code to. */
export const EXIT_FILE_VARIABLE = "SEAMLESS_JOB_EXIT_FILE";
/** Environment variable naming the file a transformation job writes its result checksum to. */
export const RESULT_FILE_VARIABLE = "SEAMLESS_JOB_RESULT_FILE";

/**
 * The bash script of a job: mark the job's processes with a marker owned by this shell
 * (start ticks read with the `read` builtin, no fork), record the exit status on the way out
 * (an EXIT trap survives `exit N` in the command), then the command.
 */
export function jobScript(command: string): string {
  return `read -r -a __seamless_stat < /proc/$$/stat
export ${PROCESS_TREE_ENV}="\${${PROCESS_TREE_ENV}:+\$${PROCESS_TREE_ENV}:}$$-\${__seamless_stat[21]}-q"
unset __seamless_stat
trap 'echo $? > "$${EXIT_FILE_VARIABLE}"' EXIT
${command}
`;
}

/** The process tree of a job whose root shell is `pid` (started at `startTicks`). */
function treeOf(pid: number, startTicks: string | null): ProcessTree {
  return { marker: `${pid}-${startTicks ?? "0"}-q`, env: {}, rootPid: pid, rootStartTicks: startTicks === null ? null : Number(startTicks), attach() {} };
}

/**
 * Keeps a running job's log within its cap: the job writes straight to the file (so it outlives
 * a daemon crash), hence the daemon looks at the size now and then and trims it in place.
 *
 * @returns stops the keeping
 */
function keepLogCapped(request: ExecutionRequest): () => void {
  const capBytes = request.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
  let timer: ReturnType<typeof setTimeout>;
  const look = () => {
    let trimmed = false;
    try {
      trimmed = trimLogFile(request.files.log, capBytes);
    } catch {
      // A log that cannot be trimmed now (removed by `clean`, disk full) is tried again next time.
    }
    timer = setTimeout(look, trimmed ? LOG_TRIM_BUSY_INTERVAL_MS : LOG_TRIM_INTERVAL_MS);
  };
  timer = setTimeout(look, LOG_TRIM_INTERVAL_MS);
  return () => clearTimeout(timer);
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function readResult(path: string): string | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    return /^[0-9a-f]{64}$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

function readExitCode(path: string): number | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    return text === "" ? null : Number(text);
  } catch {
    return null;
  }
}

/**
 * Runs jobs as local processes.
 *
 * @example Run a plain command
 * ```ts
 * const executor = new LocalExecutor();
 * const outcome = await executor.execute({ job, files: executionFilesOf(dir + "/1"), signal: new AbortController().signal, timeoutMs: null });
 * assertEquals(outcome.exitCode, 0);
 * ```
 */
export class LocalExecutor implements Executor {
  readonly #options: LocalExecutorOptions;
  readonly #graceMs: number;
  /** Running executions by job id, for suspend/continue. */
  readonly #running = new Map<number, { tree: ProcessTree; suspended: boolean }>();

  constructor(options: LocalExecutorOptions = {}) {
    this.#options = options;
    this.#graceMs = options.graceMs ?? 2000;
  }

  #processOf(job: Job, files: ExecutionFiles): ProcessSpec {
    if (this.#options.processOf) return this.#options.processOf(job, files);
    return { command: job.command, cwd: job.workdir, env: {} };
  }

  async execute(request: ExecutionRequest): Promise<ExecutionOutcome> {
    const { job, files } = request;
    const started = performance.now();
    if (request.signal.aborted) return { status: "canceled", exitCode: null, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    rmSync(files.exit, { force: true });
    rmSync(files.result, { force: true });
    const spec = this.#processOf(job, files);
    const logFd = openSync(files.log, "a");
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn(["/bin/bash", "-c", jobScript(spec.command)], {
        cwd: spec.cwd,
        env: {
          ...(this.#options.baseEnv ?? process.env), ...job.env, ...spec.env,
          [EXIT_FILE_VARIABLE]: files.exit, [RESULT_FILE_VARIABLE]: files.result, SEAMLESS_JOB_ID: String(job.id),
        },
        stdin: "ignore",
        stdout: logFd,
        stderr: logFd,
        detached: true,
      });
    } catch (error) {
      closeSync(logFd);
      const message = `seamless queue: cannot start job ${job.id}: ${(error as Error).message}\n`;
      writeFileSync(files.log, message, { flag: "a" });
      return { status: "exited", exitCode: 127, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    }
    closeSync(logFd);
    const pid = child.pid;
    const startTicks = processStartTicks(pid);
    request.onStarted?.({ pid, pidStartTime: startTicks });
    const watch = this.#watch(request, treeOf(pid, startTicks), request.timeoutMs);
    const exitCode = await child.exited;
    const ending = await watch.end();
    const usage = child.resourceUsage();
    return {
      status: ending ?? "exited",
      exitCode: ending ? null : exitCode,
      resultChecksum: ending ? null : readResult(files.result),
      wallSeconds: (performance.now() - started) / 1000,
      cpuSeconds: usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : null,
      maxRssBytes: usage ? usage.maxRSS : null,
    };
  }

  /**
   * Watches a running job (started here, or re-attached after a restart): its signal and timeout
   * kill its whole tree, its log stays capped. `end()`, once the job's root process is gone,
   * stops watching and empties what the job left before its slot is free again: after a kill,
   * the whole tree; after a normal end, its process group (a full /proc scan per job would halve
   * the throughput of short jobs; escapees of a finished job are abandoned, and the next
   * compute's reapAbandonedTrees() ends them). It answers why the job ended early, if it did.
   */
  #watch(request: ExecutionRequest, tree: ProcessTree, timeoutMs: number | null): { end(): Promise<"timeout" | "canceled" | null> } {
    const { job } = request;
    this.#running.set(job.id, { tree, suspended: false });
    let ending: "timeout" | "canceled" | null = null;
    let killed: Promise<unknown> = Promise.resolve();
    const kill = (why: "timeout" | "canceled") => {
      if (ending) return;
      ending = why;
      killed = this.#kill(job.id, tree);
    };
    const onAbort = () => kill("canceled");
    request.signal.addEventListener("abort", onAbort, { once: true });
    const timer = timeoutMs === null ? null : setTimeout(() => kill("timeout"), timeoutMs);
    const stopCapping = keepLogCapped(request);
    return {
      end: async () => {
        stopCapping();
        if (timer) clearTimeout(timer);
        request.signal.removeEventListener("abort", onAbort);
        await killed;
        if (ending === null && tree.rootPid !== null) await this.#emptyGroup(tree.rootPid);
        this.#running.delete(job.id);
        return ending;
      },
    };
  }

  suspend(jobId: number, suspended: boolean): boolean {
    const running = this.#running.get(jobId);
    if (!running) return false;
    running.suspended = suspended;
    this.#signalTree(running.tree, suspended ? "SIGSTOP" : "SIGCONT");
    return true;
  }

  #signalTree(tree: ProcessTree, signal: NodeJS.Signals): void {
    for (const pid of listProcessTree(tree)) {
      try {
        process.kill(pid, signal);
      } catch {}
    }
  }

  /** Kills a tree; a stopped one is continued right after the SIGTERM so that it can act on it. */
  #kill(jobId: number, tree: ProcessTree): Promise<unknown> {
    const killed = killProcessTree(tree, { graceMs: this.#graceMs });
    if (this.#running.get(jobId)?.suspended) this.#signalTree(tree, "SIGCONT");
    return killed;
  }

  async #emptyGroup(pgid: number): Promise<void> {
    if (!signalGroup(pgid, "SIGKILL")) return;
    const deadline = Date.now() + this.#graceMs;
    while (signalGroup(pgid, 0) && Date.now() < deadline) await Bun.sleep(10);
  }

  async reattach(request: ExecutionRequest): Promise<ExecutionOutcome> {
    const { job, files } = request;
    const finished = (): ExecutionOutcome | null => {
      const exitCode = readExitCode(files.exit);
      if (exitCode === null) return null;
      return { status: "exited", exitCode, resultChecksum: readResult(files.result), wallSeconds: (Date.now() - (job.startedAt ?? Date.now())) / 1000, cpuSeconds: null, maxRssBytes: null };
    };
    const lost: ExecutionOutcome = { status: "lost", exitCode: null, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    if (job.pid === null || !isProcessAlive(job.pid, job.pidStartTime)) return finished() ?? lost;
    const pid = job.pid;
    const remaining = request.timeoutMs === null ? null : Math.max(0, request.timeoutMs - (Date.now() - (job.startedAt ?? Date.now())));
    const watch = this.#watch(request, treeOf(pid, job.pidStartTime), remaining);
    // Not our child: no exit event exists for it, so its liveness is checked a few times a second.
    while (isProcessAlive(pid, job.pidStartTime)) await Bun.sleep(100);
    const ending = await watch.end();
    if (ending) return { ...lost, status: ending };
    // The shell writes the exit file as it exits; give the write a moment to land.
    for (let i = 0; i < 10; i++) {
      const outcome = finished();
      if (outcome) return outcome;
      await Bun.sleep(20);
    }
    return lost;
  }
}
