/**
 * Finding and killing every process of a job: its process group, its descendants, and the
 * escapees that left both (`setsid`, a double fork `(sleep &)`, `nohup … & disown`).
 *
 * Why a marker: a process that calls `setsid` leaves the process group, and a double-forked
 * one is re-parented to init, so neither the group nor the parent chain finds it. Every process
 * inherits its environment, though, so each job's processes carry one unique environment
 * variable, {@link PROCESS_TREE_ENV}, and a scan of `/proc/<pid>/environ` finds them wherever
 * they went. The scan also takes the job's process group and the descendants of every process
 * found (which covers a child that cleared its environment while its parent was alive). The
 * marker names the owning process and its start time, so a later run can tell a tree whose
 * owner died (kill -9) and reap it ({@link reapAbandonedTrees}).
 *
 * Not used: cgroup v2 (not writable on most machines, cgroup v1 here), PR_SET_CHILD_SUBREAPER
 * (would make every orphan our zombie to reap by hand). Known gap: a process that both clears
 * its environment (`env -i`) and leaves the session after its parent exited is not found.
 *
 * This module starts nothing. The spawner puts {@link ProcessTree.env} into the child's
 * environment and reports the child's pid with {@link ProcessTree.attach}.
 *
 * Linux only (`/proc`); elsewhere the scans find nothing but the process group is still killed.
 * @module
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";

/** The environment variable that marks the processes of a job; nested jobs append ":"-separated markers. */
export const PROCESS_TREE_ENV = "SEAMLESS_PROCESS_TREE";

/** One job's processes: the marker its processes carry and, once started, its root pid. */
export interface ProcessTree {
  /** The unique marker (`<ownerPid>-<ownerStartTicks>-<random>`). */
  readonly marker: string;
  /** Environment additions for the job's root process (keeps markers of enclosing jobs). */
  readonly env: Record<string, string>;
  /** The root process (also its process group id when it was spawned detached), once attached. */
  rootPid: number | null;
  /** The root's start time: no process of the job started before it. */
  rootStartTicks: number | null;
  /** The machine's count of created tasks when the root was attached (bounds pid reuse since); null or absent when unknown. */
  rootForkCount?: number | null;
  /** Records the root process of the job. */
  attach(pid: number): void;
}

/** Options of {@link killProcessTree}. */
export interface KillOptions {
  /** How long processes get after SIGTERM before SIGKILL (default 2000; 0 = SIGKILL at once). */
  graceMs?: number;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  startTicks: string;
}

const statBuffer = Buffer.allocUnsafe(4096);

/** Reads `/proc/<pid>/stat`; null when the process is gone. */
function readStat(pid: number): ProcInfo | null {
  let text: string;
  try {
    // One reused buffer: a scan reads this file for every process on the machine.
    const fd = openSync(`/proc/${pid}/stat`, "r");
    try {
      text = statBuffer.toString("latin1", 0, readSync(fd, statBuffer, 0, statBuffer.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain ") ": split after the last one.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]), startTicks: fields[19]! };
}

let ownStartTicks: string | undefined;

/** The start time of process `pid` in clock ticks since boot (with the pid, a unique name); null when gone. */
export function processStartTicks(pid: number): string | null {
  return readStat(pid)?.startTicks ?? null;
}

/**
 * Whether the process that `pid` and `startTicks` name is still running (a reused pid with a
 * different start time is another process).
 *
 * @param pid a process id
 * @param startTicks its start time as {@link processStartTicks} gave it; null to trust the pid alone
 * @returns true while that process exists and is not a zombie
 */
export function isProcessAlive(pid: number, startTicks: string | null = null): boolean {
  const info = readStat(pid);
  if (info === null) {
    if (process.platform === "linux") return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  if (info.state === "Z" || info.state === "X") return false;
  return startTicks === null || info.startTicks === startTicks;
}

/** A name for this process that stays unique across pid reuse: `<pid>-<startTicks>`. */
export function ownerTag(): string {
  ownStartTicks ??= processStartTicks(process.pid) ?? "0";
  return `${process.pid}-${ownStartTicks}`;
}

/**
 * Creates the handle of a new job's process tree. Pass `tree.env` into the child's environment
 * and call `tree.attach(child.pid)` once it is spawned (detached, so that it leads its group).
 *
 * @param baseEnv the environment the child would get (its markers of enclosing jobs are kept)
 * @returns the handle
 * @example Marking a child
 * ```ts
 * const tree = createProcessTree(process.env);
 * const child = Bun.spawn(["bash", "-c", "setsid sleep 100 &"], { env: { ...process.env, ...tree.env }, detached: true });
 * tree.attach(child.pid);
 * await child.exited;
 * const survivors = await killProcessTree(tree, { graceMs: 500 });
 * // survivors.length === 0: the setsid sleep was found through its environment and killed
 * ```
 */
export function createProcessTree(baseEnv: Record<string, string | undefined> = process.env): ProcessTree {
  const random = Math.floor(Math.random() * 2 ** 48).toString(36);
  const marker = `${ownerTag()}-${random}`;
  const outer = baseEnv[PROCESS_TREE_ENV];
  return {
    marker,
    env: { [PROCESS_TREE_ENV]: outer ? `${outer}:${marker}` : marker },
    rootPid: null,
    rootStartTicks: null,
    rootForkCount: null,
    attach(pid: number) {
      // A moment after the root started: the few tasks created in between are within the margin of processesSinceRoot().
      this.rootForkCount = forkCount();
      this.rootPid = pid;
      const ticks = processStartTicks(pid);
      this.rootStartTicks = ticks === null ? null : Number(ticks);
    },
  };
}

function readEnviron(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return null;
  }
}

function markersIn(environ: string): string[] {
  const key = `${PROCESS_TREE_ENV}=`;
  const at = environ.startsWith(key) ? 0 : environ.indexOf(`\0${key}`);
  if (at < 0) return [];
  const start = at === 0 ? key.length : at + 1 + key.length;
  const end = environ.indexOf("\0", start);
  return environ.slice(start, end < 0 ? undefined : end).split(":");
}

/** The markers a process carries, or null when its environment cannot be read. */
function markersOf(pid: number): string[] | null {
  const environ = readEnviron(pid);
  return environ === null ? null : markersIn(environ);
}

/**
 * Whether each of a job's candidates (younger than its root) carries `marker`. A user process
 * caught in the middle of exec shows an empty environment for an instant (a `setsid sleep`
 * whose marker would then be missed): those are looked at again, all together, up to three
 * times a millisecond apart (one wait per scan, not one per process). Kernel threads (children
 * of kthreadd, pid 2) and init have no environment at all.
 */
function carriersAmong(pids: number[], marker: string): number[] {
  const environs = new Map(pids.map((pid) => [pid, readEnviron(pid)]));
  for (let tries = 0; tries < 3; tries++) {
    const blank = pids.filter((pid) => environs.get(pid) === "" && pid > 2 && readStat(pid)?.ppid !== 2);
    if (blank.length === 0) break;
    Bun.sleepSync(1);
    for (const pid of blank) environs.set(pid, readEnviron(pid));
  }
  return pids.filter((pid) => {
    const environ = environs.get(pid);
    return environ != null && markersIn(environ).includes(marker);
  });
}

/** How many processes the last full listing found: beyond that many pids, probing a range costs more than listing. */
let processCount = 256;

function allProcesses(): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const infos: ProcInfo[] = [];
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const info = readStat(Number(name));
    if (info) infos.push(info);
  }
  processCount = infos.length;
  return infos;
}

function readNumber(path: string): number | null {
  try {
    const value = Number.parseFloat(readFileSync(path, "latin1"));
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

let pidMax: number | null | undefined;

/** Tasks (processes and threads) created since boot, machine-wide: each took a pid. */
function forkCount(): number | null {
  try {
    const match = /\nprocesses (\d+)/.exec(readFileSync("/proc/stat", "latin1"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The processes that can belong to a job, found without listing /proc: every process of a job
 * started after its root, and Linux hands out pids in increasing order, wrapping at pid_max. So
 * while the pids cannot have wrapped since the root started, the job's processes all have pids
 * from the root's up to the last one handed out (`ns_last_pid`), and probing that range is
 * cheaper than listing every process when it is shorter than the process table (a short job,
 * or a quiet machine). Null when the shortcut does not hold: the last pid is below the root's
 * (wrapped), or so many tasks were created since the root was attached that they could have
 * wrapped all the way round, or the range is long. Known gap, as for any pid-based reasoning:
 * pids chosen by hand (checkpoint/restore writing `ns_last_pid`, privileged).
 */
function processesSinceRoot(tree: ProcessTree): ProcInfo[] | null {
  if (tree.rootPid === null || tree.rootStartTicks === null || tree.rootForkCount == null) return null;
  const last = readNumber("/proc/sys/kernel/ns_last_pid");
  if (last === null || last < tree.rootPid || last - tree.rootPid >= processCount) return null;
  pidMax ??= readNumber("/proc/sys/kernel/pid_max");
  const forks = forkCount();
  if (!pidMax || forks === null || forks - tree.rootForkCount >= pidMax / 2) return null;
  const infos: ProcInfo[] = [];
  for (let pid = tree.rootPid; pid <= last; pid++) {
    const info = readStat(pid);
    if (info) infos.push(info);
  }
  return infos;
}

/** Adds every descendant of the selected processes (parent chains within one snapshot). */
function withDescendants(all: ProcInfo[], selected: Set<number>): Set<number> {
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of all) {
      if (!selected.has(info.pid) && selected.has(info.ppid)) {
        selected.add(info.pid);
        grew = true;
      }
    }
  }
  return selected;
}

/**
 * Lists the live processes of a job: its marker carriers, its process group, their descendants.
 * Zombies are not listed (they hold nothing and cannot be killed), nor is this process.
 *
 * @param tree the job's handle
 * @returns the pids, ascending
 */
export function listProcessTree(tree: ProcessTree): number[] {
  const all = processesSinceRoot(tree) ?? allProcesses();
  const selected = new Set<number>();
  const candidates: number[] = [];
  for (const info of all) {
    if (info.pid === process.pid || info.state === "Z" || info.state === "X") continue;
    if (tree.rootPid !== null && (info.pid === tree.rootPid || info.pgid === tree.rootPid)) selected.add(info.pid);
    else if (tree.rootStartTicks !== null && Number(info.startTicks) < tree.rootStartTicks) continue; // older than the job
    else candidates.push(info.pid);
  }
  for (const pid of carriersAmong(candidates, tree.marker)) selected.add(pid);
  withDescendants(all.filter((info) => info.state !== "Z" && info.pid !== process.pid), selected);
  return [...selected].sort((a, b) => a - b);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

/**
 * Ends every process of a job: SIGTERM to all of them (and the process group), then SIGKILL to
 * whatever is left after `graceMs`, repeated until a scan finds none (a process forking while
 * it is killed is caught by the next scan). Bounded: gives up after ~40 SIGKILL rounds.
 *
 * @param tree the job's handle
 * @param options grace period
 * @returns the pids still alive at the end (empty unless something is unkillable, e.g. in D state)
 */
export async function killProcessTree(tree: ProcessTree, options: KillOptions = {}): Promise<number[]> {
  const graceMs = options.graceMs ?? 2000;
  const group = () => {
    if (tree.rootPid === null) return;
    try {
      process.kill(-tree.rootPid, "SIGKILL");
    } catch {}
  };
  let pids = listProcessTree(tree);
  if (graceMs > 0 && pids.length > 0) {
    signalAll(pids, "SIGTERM");
    if (tree.rootPid !== null) {
      try {
        process.kill(-tree.rootPid, "SIGTERM");
      } catch {}
    }
    const deadline = Date.now() + graceMs;
    let delayMs = 5;
    while (Date.now() < deadline) {
      await Bun.sleep(Math.min(delayMs, Math.max(1, deadline - Date.now())));
      delayMs = Math.min(delayMs * 2, 100);
      pids = listProcessTree(tree);
      if (pids.length === 0) break;
    }
  }
  for (let round = 0; round < 40; round++) {
    group();
    if (pids.length === 0) break; // the last scan found none: the common end of a finished job costs one scan
    signalAll(pids, "SIGKILL");
    await Bun.sleep(round === 0 ? 1 : 10);
    pids = listProcessTree(tree);
  }
  return pids;
}

/**
 * Kills every marked process whose owning job process is dead (a `seamless run` killed with
 * SIGKILL leaves its command running): any marker naming a dead owner counts. Safe to call at
 * any time; live jobs (of this or another process) are left alone.
 *
 * @returns the pids that were sent SIGKILL
 */
export function reapAbandonedTrees(): number[] {
  const killed: number[] = [];
  const owners = new Map<string, boolean>();
  for (const info of allProcesses()) {
    if (info.pid === process.pid || info.state === "Z") continue;
    const markers = markersOf(info.pid);
    if (!markers || markers.length === 0) continue;
    const abandoned = markers.some((marker) => {
      const [pid, ticks] = marker.split("-");
      const owner = `${pid}-${ticks}`;
      if (!owners.has(owner)) owners.set(owner, isProcessAlive(Number(pid), ticks ?? null));
      return owners.get(owner) === false;
    });
    if (abandoned) {
      try {
        process.kill(info.pid, "SIGKILL");
        killed.push(info.pid);
      } catch {}
    }
  }
  return killed;
}
