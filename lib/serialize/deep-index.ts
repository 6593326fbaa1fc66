/**
 * Directory deep indexes: `{relative POSIX path: checksum}` serialized as plain
 * (cli-spec §1.2, §3.12).
 * @module
 */
import { SeamlessError } from "../errors.ts";

/** Raised for index keys that could escape their directory. */
export class UnsafePathError extends SeamlessError {}

/**
 * Refuses keys that are absolute, empty, or contain `..`/`.` segments, so that an index read
 * from disk or from a server can never write outside its target directory.
 *
 * @param key the index key
 * @param source where the index came from, for the message
 * @throws {UnsafePathError}
 */
export function validateIndexKey(key: string, source: string): void {
  if (key === "" || key.startsWith("/") || key.includes("\0") || key.includes("\\")) {
    throw new UnsafePathError(`Unsafe path "${key}" in index "${source}": absolute or empty paths are not allowed`);
  }
  for (const segment of key.split("/")) {
    if (segment === ".." || segment === "." || segment === "") {
      throw new UnsafePathError(`Unsafe path "${key}" in index "${source}": "${segment || "//"}" segments are not allowed`);
    }
  }
}
