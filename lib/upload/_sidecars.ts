/**
 * An upload's sidecar files (cli-spec §4): `.CHECKSUM` for each input, `.INDEX` too for a
 * directory; compared with what is on disk, so identical ones stay untouched, and written
 * atomically, `.INDEX` before `.CHECKSUM`.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { formatChecksumSidecar, holdsBytes, holdsBytesAsync } from "../checksum/sidecar.ts";
import { writeFileAtomic, writeFileAtomicAsync } from "../disk/atomic-write.ts";
import { forEachAdaptive } from "../concurrency/map-concurrent.ts";
import type { UploadPlan } from "./_plan.ts";

/** One sidecar file to write: a `.CHECKSUM` or an `.INDEX`. */
export interface SidecarFile {
  path: string;
  bytes: Uint8Array;
  /** The buffer it names: a file's, or a directory's index buffer. */
  names: Checksum;
  /** See {@link SidecarWrite.likelyExists}. */
  likelyExists?: boolean;
  /** See {@link SidecarWrite.heldAlready}. */
  heldAlready?: boolean;
  /** One of a directory's sidecars: through its index it names the buffers of all its files too. */
  directory?: boolean;
}

/**
 * Every sidecar file of a plan that may need writing, in plan order: all but the `.CHECKSUM`
 * files read ahead as holding what they should ({@link SidecarWrite.heldAlready}). See
 * {@link staleSidecars}.
 */
export function sidecarFilesOf(plan: UploadPlan): SidecarFile[] {
  const unsure = plan.sidecars.filter((sidecar) => sidecar.heldAlready !== true);
  // One buffer holds every `.CHECKSUM` text, viewed per file: 10k small buffers cost ~5 ms more.
  const texts = unsure.map((sidecar) => formatChecksumSidecar(sidecar.checksum));
  const all = Buffer.from(texts.join(""), "latin1");
  let end = 0;
  const files = unsure.flatMap((sidecar, k): SidecarFile[] => {
    const names = sidecar.checksum;
    const bytes = all.subarray(end, (end += texts[k]!.length));
    const checksumFile: SidecarFile = { path: sidecar.checksumPath, bytes, names, likelyExists: sidecar.likelyExists, heldAlready: sidecar.heldAlready };
    if (!sidecar.index) return [checksumFile];
    checksumFile.directory = true;
    return [{ ...sidecar.index, names, directory: true }, checksumFile];
  });
  // A directory's `.INDEX` was not read ahead, even where its `.CHECKSUM` was.
  const indexes = plan.sidecars.filter((sidecar) => sidecar.heldAlready === true && sidecar.index);
  return indexes.length === 0 ? files : [...indexes.map((sidecar) => ({ ...sidecar.index!, names: sidecar.checksum, directory: true })), ...files];
}

/**
 * The sidecar files of a plan that are missing or hold other bytes; identical ones are left
 * untouched (their mtimes stay). Reading them needs no buffer, so an upload runs this while
 * {@link findMissing} waits on the store, and writes the result after storing.
 */
export async function staleSidecars(plan: UploadPlan): Promise<SidecarFile[]> {
  const files = sidecarFilesOf(plan);
  const stale = files.map((file) => file.heldAlready === false);
  const indexes = files.flatMap((file, index) => (file.heldAlready === undefined ? [index] : []));
  await forEachAdaptive(
    indexes,
    (index) => void (stale[index] = !holdsBytes(files[index]!.path, files[index]!.bytes, files[index]!.likelyExists)),
    async (index) => void (stale[index] = !(await holdsBytesAsync(files[index]!.path, files[index]!.bytes, files[index]!.likelyExists))),
  );
  return files.filter((_, index) => stale[index]);
}

/** Options of {@link writeSidecars}. */
export interface SidecarWriteOptions {
  /** The files were not compared with what is on disk ({@link staleSidecars}): leave identical ones untouched. */
  compare?: boolean;
}

/** Writes sidecar files ({@link staleSidecars}), each atomically; `.INDEX` files before any `.CHECKSUM`. */
export async function writeSidecars(files: SidecarFile[], options: SidecarWriteOptions = {}): Promise<void> {
  // Main thread only: two threads creating files in one directory slowed each other down
  // (sidecars of 10k files: 155 ms on one thread, ~210 ms on two; BENCHMARKS.md).
  const { writeSync, writeAsync } = sidecarWriters(options);
  for (const batch of indexesFirst(files)) await forEachAdaptive(batch, writeSync, writeAsync);
}

export function sidecarWriters(options: SidecarWriteOptions): { writeSync: (file: SidecarFile) => void; writeAsync: (file: SidecarFile) => Promise<void> } {
  if (!options.compare) return { writeSync: (file) => writeFileAtomic(file.path, file.bytes), writeAsync: (file) => writeFileAtomicAsync(file.path, file.bytes) };
  return {
    writeSync: (file) => void ((file.heldAlready ?? holdsBytes(file.path, file.bytes, file.likelyExists)) || writeFileAtomic(file.path, file.bytes)),
    writeAsync: async (file) => void ((file.heldAlready ?? (await holdsBytesAsync(file.path, file.bytes, file.likelyExists))) || (await writeFileAtomicAsync(file.path, file.bytes))),
  };
}

function indexesFirst(files: SidecarFile[]): SidecarFile[][] {
  const isIndex = (file: SidecarFile) => file.path.endsWith(".INDEX");
  return [files.filter(isIndex), files.filter((file) => !isIndex(file))];
}
