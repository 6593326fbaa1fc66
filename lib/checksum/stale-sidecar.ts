/**
 * A `.CHECKSUM` sidecar that disagrees with the file or directory next to it. Python trusts a
 * directory's sidecar without looking (a stale `DIR.CHECKSUM` silently beats the directory's
 * real content) and refuses a file's: we treat both alike and refuse, saying which of the two
 * changed last and how to refresh the sidecar (QUIRK, issue 17).
 * @module
 */
import { statSync } from "node:fs";
import { SeamlessError } from "../errors.ts";
import type { Checksum } from "./checksum.ts";
import { listDirectoryFiles } from "./file-checksum.ts";

/** Newest modification time of a file, or of a directory and everything in it (a removal touches its directory). */
function newestChangeMs(path: string, kind: "file" | "directory"): number {
  let newest = statSync(path).mtimeMs;
  if (kind === "directory") for (const file of listDirectoryFiles(path)) newest = Math.max(newest, file.stats.mtimeMs);
  return newest;
}

/**
 * The error for a sidecar that names other content than the path beside it.
 *
 * @param path the file or directory on disk (as the user wrote it)
 * @param kind what it is
 * @param sidecarPath its `.CHECKSUM`
 * @param recorded the checksum the sidecar holds
 * @param actual the checksum of what is on disk now
 * @param lead the first words of the message (Python's wording for a file argument)
 * @returns a {@link SeamlessError} whose hint says how to refresh the sidecar
 */
export function staleSidecarError(path: string, kind: "file" | "directory", sidecarPath: string, recorded: Checksum, actual: Checksum, lead: string): SeamlessError {
  let which: string;
  try {
    // Equal times (a coarse clock) count as the content changing: by far the common case.
    which = newestChangeMs(path, kind) >= statSync(sidecarPath).mtimeMs
      ? `the ${kind} "${path}" changed after "${sidecarPath}" was written`
      : `"${sidecarPath}" was written after the ${kind} "${path}" and names other content`;
  } catch {
    which = `"${sidecarPath}" and the ${kind} "${path}" disagree`;
  }
  return new SeamlessError(`${lead}: ${which} (${sidecarPath}: ${recorded.slice(0, 12)}…, on disk: ${actual.slice(0, 12)}…)`, {
    hint: `to use what is on disk, refresh the sidecar with "seamless upload ${path}" (or "seamless checksum --write ${path}"); to use the recorded checksum, move "${path}" away`,
  });
}
