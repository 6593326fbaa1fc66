/**
 * Directory listings that tell a first upload which sidecars are absent. Writing a sidecar
 * first checks whether it holds the right bytes already (so that an identical one keeps its
 * mtime), and for a new one that check is a failed `stat`: ~2 µs each on the main thread, ~20 ms
 * for 10k files. One `readdir` of their directory, run on the I/O thread pool while the inputs
 * are hashed, answers it for all of them.
 * @module
 */
import { readdir } from "node:fs";

/** A directory is listed when it holds at least this many inputs. */
export const LIST_FROM = 256;

/** The names each listed directory held. */
export class DirectoryListings {
  readonly #names: Map<string, Set<string>>;

  constructor(names: Map<string, Set<string>>) {
    this.#names = names;
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
  const names = await Promise.all(listed.map((directory) => new Promise<string[] | null>((resolve) => readdir(directory, (error, names) => resolve(error ? null : names)))));
  return new DirectoryListings(new Map(listed.flatMap((directory, k) => (names[k] ? [[directory, new Set(names[k])] as const] : []))));
}

function directoryOf(path: string, slash: number): string {
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}
