/**
 * Runs a bash script in its own process group (session), streaming stdout lines and
 * collecting stderr concurrently, so a chatty command can never deadlock on a full pipe.
 * @module
 */

/** What a finished bash process reports. */
export interface BashOutcome {
  exitCode: number;
  /** Set when killed by a signal. */
  signal: string | null;
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
  /** Receives a kill function (and the process group id) as soon as the process exists. */
  onStarted?: (kill: () => void, processGroup: number) => void;
  /** Runs `/bin/bash -c script` through this command (e.g. a container engine's `run … IMAGE`). */
  launcher?: string[];
}

const MAX_COLLECTED = 8 * 1024 * 1024;

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

async function pump(stream: ReadableStream<Uint8Array>, onChunk: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onChunk(decoder.decode(chunk, { stream: true }));
  onChunk(decoder.decode());
}

/**
 * Runs `/bin/bash -c script`.
 *
 * @returns the outcome, including rusage of the bash process tree
 */
export async function runBash(script: string, options: RunBashOptions): Promise<BashOutcome> {
  const started = performance.now();
  const child = Bun.spawn([...(options.launcher ?? []), "/bin/bash", "-c", script], {
    cwd: options.cwd,
    env: options.env,
    stdin: "inherit",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 2000).unref?.();
  };
  options.onStarted?.(killGroup, child.pid);
  let pending = "";
  const stdoutTail = new TailText(MAX_COLLECTED);
  const stderr = new TailText(MAX_COLLECTED);
  const stdoutDone = pump(child.stdout, (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.trim() !== "") options.onStdoutLine(line);
      stdoutTail.add(`${line}\n`);
    }
  });
  const stderrDone = pump(child.stderr, (text) => {
    options.onStderr?.(text);
    stderr.add(text);
  });
  const exitCode = await child.exited;
  await Promise.all([stdoutDone, stderrDone]);
  if (pending.trim() !== "") options.onStdoutLine(pending);
  const usage = child.resourceUsage();
  return {
    exitCode,
    signal: child.signalCode ? String(child.signalCode) : null,
    stdoutTail: stdoutTail.toString() + pending,
    stderr: stderr.toString(),
    wallSeconds: (performance.now() - started) / 1000,
    cpuUserSeconds: usage ? Number(usage.cpuTime.user) / 1e6 : 0,
    cpuSystemSeconds: usage ? Number(usage.cpuTime.system) / 1e6 : 0,
    maxRssBytes: usage ? usage.maxRSS : null,
  };
}
