/**
 * One watchdog per process, for every job it runs: a bash blocked on a pipe from us, told
 * `+<marker>` when a job starts and `-<marker>` when it is over. If we die first (kill -9),
 * the pipe closes and the watchdog at once kills every process that carries a marker still
 * registered, instead of leaving them to the next run's reaping ({@link reapAbandonedTrees}).
 * On a normal exit nothing is registered any more and it just exits.
 *
 * One long-lived watchdog instead of one per job: a bash spawned per job cost as much as the
 * job's own bash (BENCHMARKS.md "jobserver throughput"); a line on a pipe costs nothing.
 * @module
 */
import type { FileSink, Subprocess } from "bun";
import { PROCESS_TREE_ENV } from "./process-tree.ts";

const WATCHDOG_SCRIPT = `declare -A live
while IFS= read -r line; do
  case "$line" in
    +?*) live[\${line#+}]=1;;
    -?*) unset "live[\${line#-}]";;
  esac
done
[ \${#live[@]} -eq 0 ] && exit 0
for round in 1 2 3; do
  for dir in /proc/[0-9]*; do
    while IFS= read -r -d '' entry; do
      case "$entry" in
        ${PROCESS_TREE_ENV}=*)
          for marker in "\${!live[@]}"; do
            case ":\${entry#*=}:" in *":$marker:"*) kill -9 "\${dir#/proc/}" 2>/dev/null; break;; esac
          done
          break;;
      esac
    done < "$dir/environ" 2>/dev/null
  done
  sleep 0.2
done`;

type Watchdog = Subprocess<"pipe", "ignore", "ignore">;

let watchdog: Watchdog | null = null;
/** Markers of the jobs running now: told to a respawned watchdog. */
const live = new Set<string>();

function send(process: Watchdog, line: string): boolean {
  try {
    const sink = process.stdin as FileSink;
    sink.write(line);
    // Flushed at once: a marker still in our buffer when we are killed would protect nothing.
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
    const child = Bun.spawn(["/bin/bash", "-c", WATCHDOG_SCRIPT, "seamless-watchdog"], { stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true });
    child.unref(); // never keeps this process alive
    void child.exited.then(() => {
      if (watchdog !== child) return;
      watchdog = null;
      // Killed from outside (a job's `pkill bash`): the jobs running now get a new one.
      if (live.size > 0) ensureWatchdog();
    });
    return child;
  } catch {
    return null; // no watchdog: the next run reaps what a killed one left
  }
}

function isRunning(child: Watchdog | null): child is Watchdog {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

/** Starts a watchdog if none runs, telling it every live marker. */
function ensureWatchdog(): void {
  if (isRunning(watchdog)) return;
  watchdog = spawnWatchdog();
  if (watchdog) for (const marker of live) send(watchdog, `+${marker}\n`);
}

/**
 * Puts the processes that carry `marker` under this process's watchdog until the returned
 * function is called: if this process is killed meanwhile, they are killed at once.
 *
 * @param marker a job's process-tree marker (no newline)
 * @returns the release, to call once every process of the job is gone
 */
export function guardProcessTree(marker: string): () => void {
  live.add(marker);
  if (!isRunning(watchdog) || !send(watchdog, `+${marker}\n`)) {
    watchdog = null;
    ensureWatchdog();
  }
  return () => {
    if (live.delete(marker) && watchdog) send(watchdog, `-${marker}\n`);
  };
}
