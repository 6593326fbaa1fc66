/**
 * Directory listings that tell a first upload which sidecars are absent. Writing a sidecar
 * first checks whether it holds the right bytes already (so that an identical one keeps its
 * mtime), and for a new one that check is a failed `stat`: ~2 µs each on the main thread, ~20 ms
 * for 10k files. One `readdir` of their directory, run on the I/O thread pool while the inputs
 * are hashed, answers it for all of them. Its entry types tell which inputs are regular files.
 * @module
 */
import { readdir, type Dirent } from "node:fs";

/** A directory is listed when it holds at least this many inputs. */
export const LIST_FROM = 256;

/** The names each listed directory held: true for a regular file (a symbolic link is not one). */
export class DirectoryListings {
  readonly #names: Map<string, Map<string, boolean>>;

  constructor(names: Map<string, Map<string, boolean>>) {
    this.#names = names;
  }

  /** Whether `path`'s directory was listed with it as a regular file. */
  holdsRegularFile(path: string): boolean {
    const slash = path.lastIndexOf("/");
    return this.#names.get(directoryOf(path, slash))?.get(path.slice(slash + 1)) === true;
  }

  /**
   * Whether `path`'s directory was listed without it. A file created there since is then
   * replaced (atomically) instead of compared, which leaves the same bytes.
   */
  lacks(path: string): boolean {
    const slash = path.lastIndexOf("/");
    const names = this.#names.get(directoryOf(path, slash));
    return names !== undefined && !names.has(path.slice(slash + 1));
  }
}

/** Lists the directories holding at least {@link LIST_FROM} of these paths; one that cannot be listed is left out. */
export async function listDirectoriesOf(paths: readonly string[]): Promise<DirectoryListings> {
  // Counted per run of paths in one directory: inputs usually come grouped (a shell glob).
  const counts = new Map<string, number>();
  let prefix = "";
  let run = 0;
  for (const path of paths) {
    const slash = path.lastIndexOf("/");
    if (run > 0 && slash === prefix.length - 1 && path.startsWith(prefix)) {
      run++;
      continue;
    }
    if (run > 0) counts.set(prefix, (counts.get(prefix) ?? 0) + run);
    prefix = path.slice(0, slash + 1);
    run = 1;
  }
  if (run > 0) counts.set(prefix, (counts.get(prefix) ?? 0) + run);
  const listed = [...counts].filter(([, count]) => count >= LIST_FROM).map(([prefix]) => directoryOf(prefix, prefix.length - 1));
  // The callback form: node:fs is loaded already, node:fs/promises is not.
  const entries = await Promise.all(listed.map((directory) => new Promise<Dirent[] | null>((resolve) => readdir(directory, { withFileTypes: true }, (error, entries) => resolve(error ? null : entries)))));
  const names = (list: Dirent[]) => new Map(list.map((entry) => [entry.name, entry.isFile()]));
  return new DirectoryListings(new Map(listed.flatMap((directory, k) => (entries[k] ? [[directory, names(entries[k])] as const] : []))));
}

function directoryOf(path: string, slash: number): string {
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}
