/**
 * Our own temp files (`.NAME.PID[-THREAD].N.tmp`, {@link tempPathFor}) left by a killed process:
 * recognized by name, removed once their writer is gone, never taken for user data.
 *
 * In the cache, a process that may write there registers itself in `<cache>/writers/` for its
 * lifetime ({@link registerTempWriter}); the registration of a dead process tells a later command
 * that temp files may be left, and only then is the cache searched for them. An upload adds the
 * directories it writes sidecars into to its registration ({@link noteTempDirectories}), so that
 * what a killed one left beside the user's files is removed the same way. In a download's target
 * directory, temp files are recognized while the directory is listed.
 * @module
 */
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { isProcessAlive, ownerTag } from "../process/process-tree.ts";

const TEMP_NAME = /^\..+\.(\d+)(?:-[A-Za-z0-9_]+)?\.\d+\.tmp$/;

/** This process's registration ({@link registerTempWriter}), while it is registered. */
let registration: string | null = null;

/**
 * The writer's pid when `name` (a file name, not a path) is one of our temp-file names.
 *
 * @returns the pid, or null for any other name
 */
export function tempFileWriter(name: string): number | null {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : null;
}

/** Whether `name` is a temp file of ours whose writer process is gone. */
export function isAbandonedTempFile(name: string): boolean {
  const pid = tempFileWriter(name);
  return pid !== null && pid !== process.pid && !isProcessAlive(pid);
}

/** Where writers register inside a cache directory. */
function writersDirOf(cacheDir: string): string {
  return join(cacheDir, "writers");
}

/** Removes temp files of the given pids under `dir` (to `depth` levels). */
function removeTempFilesOf(dir: string, pids: Set<number>, depth: number, removed: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth > 0) removeTempFilesOf(path, pids, depth - 1, removed);
      continue;
    }
    const pid = tempFileWriter(entry.name);
    if (pid !== null && pids.has(pid)) {
      rmSync(path, { force: true });
      removed.push(path);
    }
  }
}

/**
 * Removes the temp files that dead registered writers left in the cache, and their registrations.
 * A pid that a live registered process now carries again is skipped.
 *
 * @returns the temp files removed
 */
export function reapAbandonedTempFiles(cacheDir: string): string[] {
  const removed: string[] = [];
  reapListed(cacheDir, removed);
  return removed;
}

/** {@link reapAbandonedTempFiles}; false when there is no `writers/` directory to list. */
function reapListed(cacheDir: string, removed: string[]): boolean {
  let names: string[];
  try {
    names = readdirSync(writersDirOf(cacheDir));
  } catch {
    return false;
  }
  const dead: string[] = [];
  const livePids = new Set<number>();
  for (const name of names) {
    const [pid, ticks] = name.split("-");
    if (!/^\d+$/.test(pid ?? "")) continue;
    if (isProcessAlive(Number(pid), ticks ?? null)) livePids.add(Number(pid));
    else dead.push(name);
  }
  if (dead.length === 0) return true;
  const pids = new Set(dead.map((name) => Number(name.split("-")[0])).filter((pid) => !livePids.has(pid)));
  if (pids.size > 0) removeTempFilesOf(cacheDir, pids, 4, removed);
  for (const name of dead) {
    const pid = Number(name.split("-")[0]);
    // A live process with that pid now (registered here or not: a download, an upload into
    // another cache) is another one, whose temp files beside the user's files are in use.
    if (livePids.has(pid) || isProcessAlive(pid)) continue;
    // The directories outside the cache it noted: only its own temp names there, not recursively.
    for (const dir of notedDirectoriesOf(join(writersDirOf(cacheDir), name))) removeTempFilesOf(dir, new Set([pid]), 0, removed);
  }
  for (const name of dead) rmSync(join(writersDirOf(cacheDir), name), { force: true });
  return true;
}

/**
 * Registers this process as one that may leave temp files in the cache, after reaping what dead
 * writers left. Call the returned function when the command is done.
 *
 * `writers/` is kept between commands: making and removing a directory costs 0.5–2 ms of every
 * command on ext4 (a journaled metadata change), listing an empty one ~0.05 ms. Only a command
 * that made the cache directory itself and wrote nothing else there removes what it made.
 *
 * @returns the unregistration
 */
export function registerTempWriter(cacheDir: string): () => void {
  const writers = writersDirOf(cacheDir);
  const path = join(writers, ownerTag());
  registration = null;
  let created: string | undefined;
  if (!reapListed(cacheDir, [])) {
    try {
      created = mkdirSync(writers, { recursive: true });
    } catch {
      return () => {}; // a read-only cache: nothing will be written there either
    }
  }
  try {
    writeFileSync(path, "");
  } catch {
    return () => {};
  }
  registration = path;
  return () => {
    if (registration === path) registration = null;
    try {
      unlinkSync(path);
    } catch {}
    if (!created || created === writers) return;
    // This command made the cache directory: if it wrote nothing else, nothing stays behind.
    for (let dir = writers; dir.length >= created.length; dir = dirname(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        break; // not empty: the command did write
      }
    }
  };
}

/**
 * Adds directories outside the cache that this process writes temp files into (an upload's
 * sidecars beside the user's files) to its registration: if it is killed, the next command that
 * reaps its registration removes its temp files there too. Without a registration (the library
 * used on its own), nothing is noted.
 *
 * @param directories absolute paths
 */
export function noteTempDirectories(directories: Iterable<string>): void {
  if (registration === null) return;
  let lines = "";
  for (const dir of directories) if (isAbsolute(dir) && !dir.includes("\n")) lines += `${dir}\n`;
  if (lines === "") return;
  try {
    appendFileSync(registration, lines);
  } catch {} // the registration is a courtesy to later commands; the upload goes on without it
}

/** The directories a registration noted ({@link noteTempDirectories}). */
function notedDirectoriesOf(registrationPath: string): string[] {
  try {
    return readFileSync(registrationPath, "utf8").split("\n").filter((line) => isAbsolute(line));
  } catch {
    return [];
  }
}

/**
 * Removes, from one directory (not recursively), the temp files whose writer is gone: what a
 * killed download left next to the files it was writing.
 *
 * @returns the temp files removed
 */
export function removeAbandonedTempFilesIn(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!isAbandonedTempFile(name)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}
