/**
 * The local executor: one process per execution, started in its own process group (session)
 * with stdout and stderr written straight to the log file, so the job survives a daemon crash
 * and a restarted daemon can re-attach to it. The job's shell records its exit code in the
 * `.exit` file on the way out. Cancel and timeout signal the whole group: SIGTERM, then SIGKILL
 * after a grace period; members left behind by a job that ended by itself are killed too.
 * @module
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import type { Job } from "./job.ts";
import type { ExecutionOutcome, ExecutionRequest, Executor, ExecutionFiles } from "./executor.ts";

/** What to run for a job. */
export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
}

/** Options of {@link LocalExecutor}. */
export interface LocalExecutorOptions {
  /**
   * Builds the process of a job. The default runs `job.command` with bash in `job.workdir`;
   * the queue daemon runs transformation jobs through the seamless binary instead.
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
 * The bash script of a plain job: the user's command after an EXIT trap that records the exit
 * status (a trap survives `exit N` inside the command).
 */
export function plainJobScript(command: string): string {
  return `trap 'echo $? > "$${EXIT_FILE_VARIABLE}"' EXIT\n${command}\n`;
}

/** Process start time from /proc (clock ticks since boot), to tell a re-used pid apart. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number, startTime: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return null;
    }
  })();
  if (stat && / Z /.test(stat.slice(stat.lastIndexOf(")")))) return false; // a zombie has finished
  return startTime === null || processStartTime(pid) === startTime;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills a process group: SIGTERM, then SIGKILL after `graceMs` if any member is left.
 * Resolves once the group is gone (or after the SIGKILL).
 */
export async function killProcessGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, "SIGTERM")) return;
  signalGroup(pgid, "SIGCONT");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await Bun.sleep(20);
    if (!signalGroup(pgid, 0 as unknown as NodeJS.Signals)) return;
  }
  signalGroup(pgid, "SIGKILL");
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

  constructor(options: LocalExecutorOptions = {}) {
    this.#options = options;
    this.#graceMs = options.graceMs ?? 2000;
  }

  #processOf(job: Job, files: ExecutionFiles): ProcessSpec {
    if (this.#options.processOf) return this.#options.processOf(job, files);
    return { argv: ["/bin/bash", "-c", plainJobScript(job.command)], cwd: job.workdir, env: {} };
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
      child = Bun.spawn(spec.argv, {
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
      Bun.write(files.log, message);
      return { status: "exited", exitCode: 127, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    }
    closeSync(logFd);
    const pid = child.pid;
    request.onStarted?.({ pid, pidStartTime: processStartTime(pid) });
    let ending: "timeout" | "canceled" | null = null;
    const kill = (why: "timeout" | "canceled") => {
      if (ending) return;
      ending = why;
      void killProcessGroup(pid, this.#graceMs);
    };
    const onAbort = () => kill("canceled");
    request.signal.addEventListener("abort", onAbort, { once: true });
    const timer = request.timeoutMs === null ? null : setTimeout(() => kill("timeout"), request.timeoutMs);
    const exitCode = await child.exited;
    if (timer) clearTimeout(timer);
    request.signal.removeEventListener("abort", onAbort);
    // Whatever the job left running in its group goes with it, before its slot is free again.
    await this.#emptyGroup(pid);
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

  async #emptyGroup(pgid: number): Promise<void> {
    if (!signalGroup(pgid, "SIGKILL")) return;
    const deadline = Date.now() + this.#graceMs;
    while (signalGroup(pgid, 0 as unknown as NodeJS.Signals) && Date.now() < deadline) await Bun.sleep(10);
  }

  async reattach(request: ExecutionRequest): Promise<ExecutionOutcome> {
    const { job, files } = request;
    const finished = (): ExecutionOutcome | null => {
      const exitCode = readExitCode(files.exit);
      if (exitCode === null) return null;
      return { status: "exited", exitCode, resultChecksum: readResult(files.result), wallSeconds: (Date.now() - (job.startedAt ?? Date.now())) / 1000, cpuSeconds: null, maxRssBytes: null };
    };
    const lost: ExecutionOutcome = { status: "lost", exitCode: null, resultChecksum: null, wallSeconds: 0, cpuSeconds: null, maxRssBytes: null };
    if (job.pid === null || !isAlive(job.pid, job.pidStartTime)) {
      return finished() ?? (existsSync(files.exit) ? lost : lost);
    }
    const pid = job.pid;
    let ending: "timeout" | "canceled" | null = null;
    const kill = (why: "timeout" | "canceled") => {
      if (ending) return;
      ending = why;
      void killProcessGroup(pid, this.#graceMs);
    };
    const onAbort = () => kill("canceled");
    request.signal.addEventListener("abort", onAbort, { once: true });
    const remaining = request.timeoutMs === null ? null : Math.max(0, request.timeoutMs - (Date.now() - (job.startedAt ?? Date.now())));
    const timer = remaining === null ? null : setTimeout(() => kill("timeout"), remaining);
    // Not our child: no exit event exists for it, so its liveness is checked a few times a second.
    while (isAlive(pid, job.pidStartTime)) await Bun.sleep(100);
    if (timer) clearTimeout(timer);
    request.signal.removeEventListener("abort", onAbort);
    await this.#emptyGroup(pid);
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
