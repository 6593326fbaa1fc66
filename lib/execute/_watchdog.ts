/**
 * One watchdog per process, for every job it runs: a bash blocked on a pipe from us, told `+`
 * when jobs start running (none ran) and `-` when none runs any more. If we die first
 * (kill -9), the pipe closes and, if a job was still running, the watchdog at once kills every
 * process that carries a marker of ours (`<our pid>-<our start ticks>-…`,
 * {@link createProcessTree}), instead of leaving them to the next run's reaping
 * ({@link reapAbandonedTrees}). Processes of the jobs that were over are gone already: each
 * job's tree is killed when it ends. On a normal exit no job runs, and the watchdog just exits.
 *
 * One long-lived watchdog instead of one per job: a bash spawned per job cost as much as the
 * job's own bash (BENCHMARKS.md "jobserver throughput"); and a line only when the process
 * goes from idle to busy or back: a bash woken for every job cost ~0.3 ms of CPU per job.
 * @module
 */
import type { FileSink, Subprocess } from "bun";
import { ownerTag, PROCESS_TREE_ENV } from "../process/process-tree.ts";

const WATCHDOG_SCRIPT = `busy=0
while IFS= read -r line; do
  case "$line" in +) busy=1;; -) busy=0;; esac
done
[ "$busy" = 1 ] || exit 0
for round in 1 2 3; do
  for dir in /proc/[0-9]*; do
    while IFS= read -r -d '' entry; do
      case "$entry" in
        ${PROCESS_TREE_ENV}=*) case ":\${entry#*=}" in *":$1-"*) kill -9 "\${dir#/proc/}" 2>/dev/null;; esac; break;;
      esac
    done < "$dir/environ" 2>/dev/null
  done
  sleep 0.2
done`;

type Watchdog = Subprocess<"pipe", "ignore", "ignore">;

let watchdog: Watchdog | null = null;
/** Jobs running now: the watchdog knows whether there are any. */
let live = 0;

function send(process: Watchdog, line: string): boolean {
  try {
    const sink = process.stdin as FileSink;
    sink.write(line);
    // Flushed at once: a "+" still in our buffer when we are killed would protect nothing.
    const flushed = sink.flush();
    if (flushed instanceof Promise) flushed.catch(() => {});
    return true;
  } catch {
    return false;
  }
}

function spawnWatchdog(): Watchdog | null {
  try {
    // Its own session: a Ctrl-C or group kill aimed at us must leave it to do its job.
    const child = Bun.spawn(["/bin/bash", "-c", WATCHDOG_SCRIPT, "seamless-watchdog", ownerTag()], { stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true });
    child.unref(); // never keeps this process alive
    void child.exited.then(() => {
      if (watchdog !== child) return;
      watchdog = null;
      // Killed from outside (a job's `pkill bash`): the jobs running now get a new one.
      if (live > 0) ensureWatchdog();
    });
    return child;
  } catch {
    return null; // no watchdog: the next run reaps what a killed one left
  }
}

function isRunning(child: Watchdog | null): child is Watchdog {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

/** Starts a watchdog if none runs, telling it of every job running. */
function ensureWatchdog(): void {
  if (isRunning(watchdog)) return;
  watchdog = spawnWatchdog();
  if (watchdog && live > 0) send(watchdog, "+\n");
}

/**
 * Puts a job started by this process (its processes carry a marker of {@link createProcessTree})
 * under this process's watchdog until the returned function is called: if this process is
 * killed meanwhile, they are killed at once.
 *
 * @returns the release, to call once every process of the job is gone (calls after the first do nothing)
 */
export function guardJob(): () => void {
  live++;
  if (!isRunning(watchdog) || (live === 1 && !send(watchdog, "+\n"))) {
    watchdog = null;
    ensureWatchdog();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    live--;
    if (live === 0 && watchdog) send(watchdog, "-\n");
  };
}
