/**
 * `seamless upload` as one call (cli-spec §4, §6): plan, find what the store lacks, confirm,
 * store, write sidecars, record in the stat cache, move the inputs away.
 * @module
 */
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { fileSidecarPath, readChecksumSidecar } from "../checksum/sidecar.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import type { BufferStore } from "../buffers/store.ts";
import { noteTempDirectories } from "../buffers/temp-files.ts";
import { findMissing, sourceLength } from "../buffers/transfer.ts";
import { SeamlessError } from "../errors.ts";
import { formatSize } from "../units/human-size.ts";
import { storeIntoDestination, type ExistingPolicy, type TransferMode } from "./_destination.ts";
import { planUpload, type UploadPlan } from "./_plan.ts";
import { sidecarFilesOf, staleSidecars, writeSidecars } from "./_sidecars.ts";
import { storeAndWriteSidecars } from "./_store.ts";
import { SILENT_LOG, type Log } from "../log.ts";

/** How buffers reach a `--destination` directory ({@link openDestination}), and what happens to entries there. */
export interface DestinationOptions {
  /** Copy (the default), hard-link or symlink the files. */
  mode?: TransferMode;
  /** Existing entries: kept (the default), verified, or rewritten. */
  policy?: ExistingPolicy;
  /** With `hardlink`: skip inputs already linked there. */
  incremental?: boolean;
}

/** Options of {@link upload}. */
export interface UploadOptions {
  /** Files unchanged since they were last hashed are not hashed again; null or absent: hash every file. */
  statCache?: StatCache | null;
  /** The store is a `--destination` buffer directory ({@link openDestination}): buffers are written straight into it. */
  destination?: DestinationOptions;
  /** Remove the inputs once uploaded (`--move`); their sidecars stay. */
  move?: boolean;
  /**
   * Asked before an upload to a server of more than `limits` (cli-spec §3.12), with the
   * question to show; false refuses the upload. Absent: no upload is refused.
   */
  confirm?: (question: string) => boolean;
  /** What {@link confirm} is asked beyond: files, and bytes of the buffers to send. */
  limits?: { maxFiles: number; maxBytes: number };
  /** Messages: `Upload N files, total S` at level 0, `Upload no files` at level 1. */
  log?: Log;
  /** A progress callback for storing `totalBytes`, called once before storing into a store that is not a destination. */
  progress?: (totalBytes: number) => (bytes: number) => void;
  /** Called once buffers are stored and sidecars written, before `move` removes the inputs. */
  onUploaded?: (summary: UploadSummary) => void;
}

/** What an upload did. */
export interface UploadSummary {
  /** Files counted as uploaded, as the message `Upload N files` counts them. */
  storedFiles: number;
  storedBytes: number;
  /** Each top-level input (a `*.CHECKSUM` argument left out) with the checksum its sidecar holds; read on first use. */
  readonly inputs: { path: string; checksum: Checksum }[];
}

/**
 * Uploads files and directories into a buffer store and writes their sidecars (cli-spec §4):
 * `F.CHECKSUM` for a file (`F` minus `.gz`/`.zst`), `D.INDEX` and `D.CHECKSUM` for a directory.
 * Only buffers the store lacks are stored; sidecars that hold what they should stay untouched.
 * Many small files into a local buffer directory use a second thread.
 *
 * @param paths files and directories; a trailing `/` is ignored, `*.CHECKSUM` arguments are skipped
 * @param store where the buffers go (with {@link UploadOptions.destination}: from {@link openDestination})
 * @param options stat cache, destination, move, confirmation, messages
 * @returns what was uploaded
 * @throws {SeamlessError} for a missing input, a refused confirmation, or a failed write
 * @throws {ChecksumMismatchError} when a file changed while it was stored, or a destination entry is corrupt (`verify`)
 * @example A local buffer directory
 * ```ts
 * const store = new BufferDir(join(dir, "buffers"), { layout: "prefix" });
 * store.ensureExists();
 * const summary = await upload([join(dir, "a.txt")], store);
 * assertEquals(summary.storedFiles, 1);
 * assertEquals(readFileSync(join(dir, "a.txt.CHECKSUM"), "utf8"), `${summary.inputs[0]!.checksum}\n`);
 * ```
 */
export async function upload(paths: string[], store: BufferStore, options: UploadOptions = {}): Promise<UploadSummary> {
  const { destination, statCache = null } = options;
  const log = options.log ?? SILENT_LOG;
  const local = store.local;
  if (destination && !local) throw new TypeError("upload(): a destination store must be a local buffer directory (openDestination)");
  const localStore = !destination && local !== undefined;
  // Sidecars are written atomically through temp files beside the inputs: if this process is
  // killed, the next command reaps those (a registered process only, see temp-files.ts). Noted
  // only when some are to be written: an unchanged re-upload writes none.
  const noteSidecarDirectories = (sidecarPaths: string[]) => noteTempDirectories(parentDirectoriesOf(sidecarPaths));
  // Which buffers are stored is then known by the time the inputs are hashed.
  local?._listAhead(paths.length);
  let plan: UploadPlan | undefined;
  try {
    plan = await planUpload(paths, statCache, { localStore, directStore: localStore ? local : undefined, beforeWritingSidecars: noteSidecarDirectories });
    const policy = destination?.policy ?? "skip";
    // verify/repair must see the entries that exist already, so they get every buffer.
    const missingFound = destination && policy !== "skip" ? Promise.resolve([...plan.buffers.values()]) : findMissing(store, plan);
    missingFound.catch(() => {}); // awaited below; an error of ours first must not leave it unhandled
    // Sidecars are compared with those on disk while the store answers, and written only after
    // storing. With a helper (a local store, whose answer is quick) this thread compares them
    // where it would otherwise wait for the helper to store.
    const compareLater = plan.helper !== null;
    if (plan.sidecars.length > 0) noteSidecarDirectories(plan.sidecars.map((sidecar) => sidecar.checksumPath));
    const sidecars = compareLater ? sidecarFilesOf(plan) : await staleSidecars(plan);
    const missing = await missingFound;
    const total = missing.reduce((sum, source) => sum + sourceLength(source), 0);
    const { count, bytes } = plan.storedAlready;
    let stored: { files: number; bytes: number };
    if (missing.length === 0) {
      log.message(count === 0 ? 1 : 0, count === 0 ? "Upload no files" : `Upload ${count} files, total ${formatSize(bytes)}`);
      stored = { files: count, bytes };
      await writeSidecars(sidecars, { compare: compareLater });
    } else {
      const limits = options.limits;
      const remote = !destination && !localStore;
      if (remote && options.confirm && limits && (missing.length > limits.maxFiles || total > limits.maxBytes)) {
        if (!options.confirm(`Confirm upload of ${missing.length} files, total ${formatSize(total)}? (y/[n])? `)) {
          throw new SeamlessError(`Cannot confirm upload of ${missing.length} files, total ${formatSize(total)}. Exiting.`, { hint: "pass -y to confirm" });
        }
      }
      log.message(0, `Upload ${missing.length + count} files, total ${formatSize(total + bytes)}`);
      stored = { files: missing.length + count, bytes: total + bytes };
      if (destination) {
        storeIntoDestination(local!, missing, destination.mode ?? "copy", policy, destination.incremental === true);
        await writeSidecars(sidecars);
      } else {
        await storeAndWriteSidecars(store, missing, sidecars, { onProgress: options.progress?.(total), helper: plan.helper, meanwhile: plan.recordStatCache, compare: compareLater });
      }
    }
    plan.recordStatCache();
    const summary = summaryOf(plan.paths, stored);
    options.onUploaded?.(summary);
    if (options.move) removeInputs(plan.paths);
    return summary;
  } finally {
    plan?.helper?.close();
  }
}

/** The directories of these paths (a directory input's sidecars go beside it), absolute. */
function parentDirectoriesOf(paths: string[]): string[] {
  const parents = new Set<string>();
  for (const path of paths) {
    const trimmed = path.length > 1 && path.endsWith("/") ? path.replace(/\/+$/, "") : path;
    const slash = trimmed.lastIndexOf("/");
    parents.add(slash < 0 ? "." : slash === 0 ? "/" : trimmed.slice(0, slash));
  }
  return [...parents].map((parent) => resolve(parent));
}

function summaryOf(paths: string[], stored: { files: number; bytes: number }): UploadSummary {
  let inputs: UploadSummary["inputs"] | undefined;
  return {
    storedFiles: stored.files,
    storedBytes: stored.bytes,
    get inputs() {
      return (inputs ??= uploadedInputs(paths));
    },
  };
}

/** Each top-level input with the checksum its sidecar now holds. */
function uploadedInputs(paths: string[]): { path: string; checksum: Checksum }[] {
  return paths.map((path) => {
    const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
    const sidecar = existsSync(`${trimmed}.INDEX`) ? `${trimmed}.CHECKSUM` : fileSidecarPath(trimmed);
    return { path, checksum: readChecksumSidecar(sidecar) };
  });
}

/** Removes uploaded inputs (`--move`); their sidecars stay. */
function removeInputs(paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) throw new SeamlessError(`Cannot remove "${path}": it no longer exists`);
    rmSync(path, { recursive: true, force: true });
  }
}
