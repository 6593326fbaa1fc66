/**
 * Runs a bash script as one job: its own process group, marked as a {@link ProcessTree}, stdout
 * lines streamed and stderr collected concurrently (a chatty command never deadlocks on a full
 * pipe). The job ends when bash exits: whatever it left running (background jobs, `setsid` or
 * double-forked escapees holding our pipes) is killed, and the pipes are read for a bounded time
 * only, so a run never waits on a process it did not wait for in bash.
 * Cancellation is the caller's `AbortSignal`; a timeout is an option.
 * @module
 */
import { InterruptedError } from "../errors.ts";
import { createProcessTree, killProcessTree } from "../process/process-tree.ts";
import { guardJob } from "./_watchdog.ts";

/** What a finished bash process reports. */
export interface BashOutcome {
  exitCode: number;
  /** Set when killed by a signal. */
  signal: string | null;
  /** True when the job was killed because it ran longer than `timeoutMs`. */
  timedOut: boolean;
  stdoutTail: string;
  stderr: string;
  wallSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  maxRssBytes: number | null;
}

/** Options of {@link runBash}. */
export interface RunBashOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Called with each non-blank stdout line. */
  onStdoutLine: (line: string) => void;
  /** Called with stderr chunks as they arrive (e.g. to stream them); they are collected anyway. */
  onStderr?: (chunk: string) => void;
  /** Aborting kills the whole job; runBash then throws {@link InterruptedError}. */
  signal?: AbortSignal;
  /** Kills the whole job after this long; the outcome then has `timedOut`. */
  timeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace when the job is killed (default 2000). */
  graceMs?: number;
  /** Told the process group id once the command runs (a jobserver worker reports it). */
  onStarted?: (processGroup: number) => void;
  /** Runs `/bin/bash -c script` through this command (e.g. a container engine's `run … IMAGE`). */
  launcher?: string[];
}

const MAX_COLLECTED = 8 * 1024 * 1024;

/** Signals a canceler sends; a command that dies of one may be ending with this process. */
const TERMINATION_SIGNALS = new Set(["SIGTERM", "SIGINT", "SIGHUP"]);

/** How long an abort may take to arrive after the command died of a termination signal. */
const ABORT_ARRIVAL_MS = 250;

/** Resolves when `signal` aborts (its listeners have run by then), or after `limitMs`. */
function abortedWithin(signal: AbortSignal, limitMs: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, limitMs);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** How long the pipes are still read after every process of the job is gone or killed. */
const PIPE_DRAIN_MS = 1000;

/** The last `limit` characters of a stream, kept in amortized linear time (a slice per chunk is quadratic). */
class TailText {
  #parts: string[] = [];
  #length = 0;
  constructor(readonly limit: number) {}
  add(text: string): void {
    this.#parts.push(text);
    this.#length += text.length;
    if (this.#length > 2 * this.limit) this.#compact();
  }
  #compact(): void {
    const joined = this.#parts.join("").slice(-this.limit);
    this.#parts = [joined];
    this.#length = joined.length;
  }
  toString(): string {
    this.#compact();
    return this.#parts[0] ?? "";
  }
}

/** Reads a stream until it ends or is canceled. */
function pump(stream: ReadableStream<Uint8Array>, onChunk: (text: string) => void): { done: Promise<void>; cancel: () => void } {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        onChunk(decoder.decode(value, { stream: true }));
      }
    } catch {
      // canceled
    }
    onChunk(decoder.decode());
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

/** Starts `/bin/bash -c script` (through the launcher) in its own process group, marked with `treeEnv`. */
function spawnJob(script: string, options: RunBashOptions, treeEnv: Record<string, string>) {
  return Bun.spawn([...(options.launcher ?? []), "/bin/bash", "-c", script], {
    cwd: options.cwd,
    env: { ...options.env, ...treeEnv },
    stdin: "inherit",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
}

/**
 * Runs `/bin/bash -c script` and ends every process it started.
 *
 * @returns the outcome, including rusage of the bash process
 * @throws {InterruptedError} when `signal` was aborted (every process of the job is killed first)
 */
export async function runBash(script: string, options: RunBashOptions): Promise<BashOutcome> {
  if (options.signal?.aborted) throw new InterruptedError("Canceled before the command started");
  const started = performance.now();
  const tree = createProcessTree(options.env);
  // Guarded before it starts: if this process is killed at any moment from here on, the job dies too.
  const releaseGuard = guardJob();
  let child: ReturnType<typeof spawnJob>;
  try {
    child = spawnJob(script, options, tree.env);
  } catch (error) {
    releaseGuard();
    throw error;
  }
  tree.attach(child.pid);
  options.onStarted?.(child.pid);
  let pending = "";
  const stdoutTail = new TailText(MAX_COLLECTED);
  const stderr = new TailText(MAX_COLLECTED);
  const stdout = pump(child.stdout, (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.trim() !== "") options.onStdoutLine(line);
      stdoutTail.add(`${line}\n`);
    }
  });
  const stderrPump = pump(child.stderr, (text) => {
    options.onStderr?.(text);
    stderr.add(text);
  });

  let stop: "abort" | "timeout" | null = null;
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onAbort = () => {
    stop ??= "abort";
    wake();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = options.timeoutMs !== undefined ? setTimeout(() => {
    stop ??= "timeout";
    wake();
  }, options.timeoutMs) : null;
  let exitCode = 1;
  try {
    await Promise.race([child.exited, stopped]);
    // Bash has exited, or we stop it: either way nothing of the job may stay behind.
    await killProcessTree(tree, { graceMs: stop ? (options.graceMs ?? 2000) : 0 });
    exitCode = await child.exited;
    const drained = Promise.all([stdout.done, stderrPump.done]);
    const drainTimer = new Promise<void>((resolve) => setTimeout(resolve, PIPE_DRAIN_MS).unref?.());
    await Promise.race([drained, drainTimer]);
    stdout.cancel();
    stderrPump.cancel();
    await drained;
    if (stop === null && options.signal && TERMINATION_SIGNALS.has(String(child.signalCode))) {
      // A canceler that signals a whole tree (the queue daemon) reaches the command and this
      // process at once; when the command died of it first, its own abort is on the way: the
      // run was canceled, not a failed command.
      await abortedWithin(options.signal, ABORT_ARRIVAL_MS);
    }
  } finally {
    releaseGuard();
    options.signal?.removeEventListener("abort", onAbort);
    if (timer) clearTimeout(timer);
  }
  if (stop === "abort") throw options.signal?.reason instanceof InterruptedError ? options.signal.reason : new InterruptedError("Canceled: the command was killed");
  if (pending.trim() !== "") options.onStdoutLine(pending);
  const usage = child.resourceUsage();
  return {
    exitCode,
    signal: child.signalCode ? String(child.signalCode) : null,
    timedOut: stop === "timeout",
    stdoutTail: stdoutTail.toString() + pending,
    stderr: stderr.toString(),
    wallSeconds: (performance.now() - started) / 1000,
    cpuUserSeconds: usage ? Number(usage.cpuTime.user) / 1e6 : 0,
    cpuSystemSeconds: usage ? Number(usage.cpuTime.system) / 1e6 : 0,
    maxRssBytes: usage ? usage.maxRSS : null,
  };
}
