/**
 * Turning a result into local output (cli-spec §3.17): stdout capture, or result targets
 * written as files with `.CHECKSUM` (and `.INDEX` for directories).
 * @module
 */
import { closeSync, existsSync, mkdirSync, readFileSync, readSync, readdirSync, rmSync, rmdirSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum, hashFileRaw } from "../checksum/sha256.ts";
import { parseIndexText, writeChecksumSidecar, serializeDeepIndex, type DeepIndex } from "../checksum/sidecar.ts";
import { validateIndexKey } from "../serialize/deep-index.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import type { BufferStore } from "../buffers/store.ts";
import { ResultBufferGoneError } from "../errors.ts";
import type { ResultTargets } from "../transformation/bash-code.ts";
import type { Log } from "../log.ts";

/**
 * The stdout-capture text: leading newlines stripped, trailing newlines collapsed to one.
 * QUIRK (cli-spec §3.17): Python sends non-UTF-8 results to stderr; we keep stdout for data.
 */
export function formatCapturedStdout(buffer: Uint8Array): Uint8Array {
  let start = 0;
  while (start < buffer.length && buffer[start] === 10) start++;
  let end = buffer.length;
  while (end > start && buffer[end - 1] === 10) end--;
  const trimmed = buffer.subarray(start, end);
  if (end === buffer.length) return trimmed;
  return Buffer.concat([trimmed, Buffer.from("\n")]);
}

/** A captured stdout result, ready to be written out. */
export interface CapturedStdout {
  /** Writes the formatted output ({@link formatCapturedStdout}) through `write`, in bounded chunks. */
  writeTo(write: (data: Uint8Array) => void): void;
}

/** From this size on a captured stdout result is written from the store as a stream. */
const STREAMED_STDOUT_BYTES = 64 * 1024 * 1024;

/**
 * The captured stdout result of a run, or null when its buffer is not available. A large
 * result in the local store is verified and then streamed, never read whole (issue 17, item 14).
 *
 * @param store where the result is
 * @param checksum the result checksum
 * @param buffer the result, when the caller holds it already
 * @param streamFromBytes from which size a stored result is streamed
 * @returns the output, or null when the result buffer is not available
 * @throws {CorruptBufferError} when the stored result no longer matches its checksum (it is dropped)
 */
export async function openCapturedStdout(store: BufferStore, checksum: Checksum, buffer: Uint8Array | undefined, streamFromBytes = STREAMED_STDOUT_BYTES): Promise<CapturedStdout | null> {
  const local = store.local;
  if (!buffer && local) {
    const size = local.lengthOf(checksum);
    const fd = size !== null && size >= streamFromBytes ? local.openVerified(checksum) : null;
    if (fd !== null) return { writeTo: (write) => streamFormatted(fd, write) };
  }
  const bytes = buffer ?? (await store.get(checksum));
  if (!bytes) return null;
  return {
    writeTo: (write) => {
      const output = formatCapturedStdout(bytes);
      if (output.length > 0) write(output);
    },
  };
}

/** {@link formatCapturedStdout} on a file, chunk by chunk: trailing newlines are held back until more text follows. */
function streamFormatted(fd: number, write: (data: Uint8Array) => void): void {
  try {
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    let started = false;
    let heldNewlines = 0;
    for (let position = 0; ; ) {
      const n = readSync(fd, chunk, 0, chunk.length, position);
      if (n <= 0) break;
      position += n;
      let view = chunk.subarray(0, n);
      if (!started) {
        let skip = 0;
        while (skip < view.length && view[skip] === 10) skip++;
        view = view.subarray(skip);
        if (view.length === 0) continue;
        started = true;
      }
      let end = view.length;
      while (end > 0 && view[end - 1] === 10) end--;
      if (end === 0) {
        heldNewlines += view.length;
        continue;
      }
      if (heldNewlines > 0) write(Buffer.alloc(heldNewlines, 10));
      write(view.subarray(0, end));
      heldNewlines = view.length - end;
    }
    if (heldNewlines > 0) write(Buffer.from("\n"));
  } finally {
    closeSync(fd);
  }
}

/** One file to write locally. */
interface LocalFile {
  path: string;
  checksum: Checksum;
}

/** Options of {@link writeResultTargets}. */
export interface TargetOptions {
  store: BufferStore;
  workdir: string;
  download: boolean;
  /** `--scratch`: store no result buffers. */
  scratch?: boolean;
  log: Log;
}

/**
 * Writes result targets: sidecars always, file contents unless `download` is false.
 * Decision (cli-spec §11.1): an existing local file with other content is replaced, atomically,
 * the way a bash redirect would replace it; Python leaves it stale and only updates the sidecar.
 */
export async function writeResultTargets(resultBuffer: Uint8Array, targets: ResultTargets, options: TargetOptions): Promise<void> {
  const result = parseIndexText(Buffer.from(resultBuffer).toString("utf8"), "result");
  const files: LocalFile[] = [];
  const directories: ResultDirectory[] = [];
  for (const [server, localName] of targets) {
    const local = join(options.workdir, localName ?? server);
    // `> ./out.txt` is moved to RESULT/./out.txt, which is the key "out.txt" (Python looks up
    // "./out.txt" and reports no result).
    const resultKey = posix.normalize(server);
    if (resultKey in result) {
      mkdirSync(dirname(local), { recursive: true });
      writeChecksumSidecar(`${local}.CHECKSUM`, result[resultKey]!);
      files.push({ path: local, checksum: result[resultKey]! });
      continue;
    }
    const prefix = `${resultKey}/`;
    const sub: DeepIndex = Object.create(null);
    for (const [key, checksum] of Object.entries(result)) if (key.startsWith(prefix)) sub[key.slice(prefix.length)] = checksum;
    if (Object.keys(sub).length === 0) {
      options.log.message(0, `No result for '${server}' was returned`);
      continue;
    }
    for (const key of Object.keys(sub)) validateIndexKey(key, "result");
    directories.push({ path: local, name: localName ?? server, index: sub, previous: readPreviousIndex(`${local}.INDEX`) });
    const indexBytes = serializeDeepIndex(sub);
    // Stored (Python does not), so that the `.CHECKSUM` of a result directory names a buffer
    // that `seamless download` can resolve when the `.INDEX` file is gone.
    if (!options.scratch) await options.store.put(computeChecksum(indexBytes), indexBytes);
    mkdirSync(dirname(local), { recursive: true });
    writeFileAtomic(`${local}.INDEX`, indexBytes);
    writeChecksumSidecar(`${local}.CHECKSUM`, computeChecksum(indexBytes));
    for (const [key, checksum] of Object.entries(sub)) files.push({ path: join(local, key), checksum });
  }
  if (!options.download) return;
  for (const file of files) {
    if (existsSync(file.path)) {
      try {
        if (hashFileRaw(file.path).checksum === file.checksum) continue;
      } catch {}
    }
    mkdirSync(dirname(file.path), { recursive: true });
    if (!(await options.store.getToFile(file.checksum, file.path))) {
      throw new ResultBufferGoneError(`Cannot download result "${file.path}": buffer "${file.checksum}" not found in ${options.store.location}`);
    }
  }
  for (const directory of directories) tidyResultDirectory(directory, options.log);
}

/** A result directory as written now, and the index an earlier result left beside it. */
interface ResultDirectory {
  path: string;
  /** As the command line names it (the workdir string is absolute, cli-spec §3.11). */
  name: string;
  index: DeepIndex;
  previous: DeepIndex | null;
}

function readPreviousIndex(path: string): DeepIndex | null {
  try {
    return parseIndexText(readFileSync(path, "utf8"), path);
  } catch {
    return null; // none, or unreadable: nothing is known to be ours
  }
}

/**
 * Makes a result directory hold exactly the result (QUIRK: Python leaves files of earlier
 * results in place, where they feed the next step). Files that the previous `.INDEX` listed and
 * that are no longer part of the result are removed, if they still hold what that result put
 * there; anything else that is not part of the result is left and named in a warning.
 */
function tidyResultDirectory(directory: ResultDirectory, log: Log): void {
  const stale: string[] = [];
  for (const [key, checksum] of Object.entries(directory.previous ?? {})) {
    if (key in directory.index) continue;
    const path = join(directory.path, key);
    try {
      if (hashFileRaw(path).checksum !== checksum) continue; // changed by someone since: not ours to remove
    } catch {
      continue; // gone already
    }
    rmSync(path, { force: true });
    stale.push(key);
  }
  removeEmptyDirectories(directory.path, stale);
  if (stale.length > 0) log.message(1, `Removed ${stale.length} files of an earlier result from "${directory.name}": ${stale.join(", ")}`);
  const foreign = listFiles(directory.path).filter((key) => !(key in directory.index));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 10).join(", ") + (foreign.length > 10 ? `, … (${foreign.length - 10} more)` : "");
    log.warn(`Warning: result directory "${directory.name}" holds ${foreign.length} files that are not part of the result: ${shown}`);
  }
}

/** Removes the directories that removing `keys` left empty, deepest first (never the result directory itself). */
function removeEmptyDirectories(root: string, keys: string[]): void {
  const dirs = new Set<string>();
  for (const key of keys) for (let at = key.lastIndexOf("/"); at > 0; at = key.lastIndexOf("/", at - 1)) dirs.add(key.slice(0, at));
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(join(root, dir));
    } catch {} // not empty
  }
}

/** Relative paths of the files (and links) under a directory. */
function listFiles(root: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, prefix: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) visit(join(dir, entry.name), rel);
      else found.push(rel);
    }
  };
  visit(root, "");
  return found;
}

