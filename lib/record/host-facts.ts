/**
 * Facts about this machine and process that record mode reports or compares (services-spec
 * §4.4 step 3, §4.5 "Record mode adds"): the kernel boot id, a process's creation time as
 * psutil reports it, and the Python environment that runs Python transformations here.
 * Linux only, as the Python tools: elsewhere each fact is null.
 * @module
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

/** The kernel's boot id (`/proc/sys/kernel/random/boot_id`), or null when unreadable or empty. */
export function readBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** Linux reports process start times in USER_HZ ticks, 100 per second on every architecture. */
const USER_HZ = 100;

/**
 * When process `pid` started, in seconds since the epoch, computed as psutil's
 * `Process.create_time()` does on Linux: its start tick over USER_HZ plus the boot time.
 *
 * @param pid the process (default: this one)
 * @returns the time, or null when `/proc` cannot tell
 */
export function processCreateTimeEpoch(pid: number = process.pid): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the command name in parentheses: state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(fields[19]);
    const bootLine = readFileSync("/proc/stat", "latin1").split("\n").find((line) => line.startsWith("btime "));
    const bootSeconds = Number(bootLine?.slice(6));
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return null;
    return startTicks / USER_HZ + bootSeconds;
  } catch {
    return null;
  }
}

/** The Python environment (`sys.prefix`) that runs Python transformations, as record mode labels it. */
export interface PythonEnvironmentFacts {
  /** `sys.prefix` of that Python. */
  prefix: string;
  /** `st_mtime_ns` of its `purelib` (site-packages) directory, or null. */
  purelibMtimeNs: bigint | null;
  /** `st_mtime_ns` of `<prefix>/conda-meta/history`, or null (not a conda environment). */
  condaHistoryMtimeNs: bigint | null;
}

function mtimeNs(path: string): bigint | null {
  try {
    return statSync(path, { bigint: true }).mtimeNs;
  } catch {
    return null;
  }
}

/** The interpreter named by a script's `#!` line (`#!/usr/bin/env python3` is looked up on `pathVariable`). */
function interpreterOf(script: string, pathVariable: string): string | null {
  let firstLine: string;
  try {
    firstLine = readFileSync(script, "latin1").slice(0, 4096).split("\n")[0] ?? "";
  } catch {
    return null;
  }
  if (!firstLine.startsWith("#!")) return null;
  const words = firstLine.slice(2).trim().split(/\s+/);
  if (words[0] === "/usr/bin/env" || words[0] === "/bin/env") {
    const name = words.slice(1).find((word) => !word.startsWith("-"));
    if (!name) return null;
    for (const dir of pathVariable.split(":")) {
      if (!dir) continue;
      try {
        if (statSync(join(dir, name)).isFile()) return join(dir, name);
      } catch {}
    }
    return null;
  }
  return words[0] && isAbsolute(words[0]) ? words[0] : null;
}

/**
 * The Python environment behind `seamless-run-transformation`: its interpreter's `sys.prefix`
 * (the directory above the interpreter's `bin/`, as for venvs and conda environments) and the
 * modification times record mode compares.
 *
 * UNCERTAIN: `sys.prefix` and `purelib` are derived from the file layout, not asked from Python
 * (`<prefix>/lib/python3.X/site-packages`, when exactly one exists; Debian's system Python
 * keeps its packages elsewhere and gets no purelib token).
 *
 * @param runner the path of `seamless-run-transformation`
 * @param pathVariable PATH, for a `#!/usr/bin/env python3` line
 * @returns the facts, or null when the runner names no interpreter
 */
export function pythonEnvironmentOf(runner: string, pathVariable: string = process.env.PATH ?? ""): PythonEnvironmentFacts | null {
  const interpreter = interpreterOf(runner, pathVariable);
  if (!interpreter) return null;
  const prefix = dirname(dirname(interpreter));
  let purelibMtimeNs: bigint | null = null;
  try {
    const versions = readdirSync(join(prefix, "lib")).filter((name) => /^python3\.\d+$/.test(name));
    if (versions.length === 1) purelibMtimeNs = mtimeNs(join(prefix, "lib", versions[0]!, "site-packages"));
  } catch {}
  return { prefix, purelibMtimeNs, condaHistoryMtimeNs: mtimeNs(join(prefix, "conda-meta", "history")) };
}
