/**
 * Directory deep indexes: `{relative POSIX path: checksum}` serialized as plain
 * (cli-spec §1.2, §3.12).
 * @module
 */
import { SeamlessError } from "../errors.ts";

/** Raised for index keys that could escape their directory. */
export class UnsafePathError extends SeamlessError {}

/**
 * Refuses keys that are absolute, empty, hold a NUL, or contain `..`/`.`/empty segments, so
 * that an index read from disk or from a server can never write outside its target directory.
 * A backslash is an ordinary character of a POSIX file name, as in Python Seamless, which
 * uploads and downloads such names: it is allowed, so that whatever upload stores, download
 * restores.
 *
 * @param key the index key
 * @param source where the index came from, for the message
 * @throws {UnsafePathError}
 */
export function validateIndexKey(key: string, source: string): void {
  if (key === "") throw new UnsafePathError(`Unsafe path "" in index "${source}": empty paths are not allowed`);
  if (key.startsWith("/")) throw new UnsafePathError(`Unsafe path "${key}" in index "${source}": absolute paths are not allowed`);
  if (key.includes("\0")) {
    throw new UnsafePathError(`Unsafe path ${JSON.stringify(key)} in index "${source}": a NUL character cannot be part of a file name`);
  }
  for (const segment of key.split("/")) {
    if (segment === ".." || segment === "." || segment === "") {
      throw new UnsafePathError(`Unsafe path "${key}" in index "${source}": "${segment || "//"}" segments are not allowed`);
    }
  }
}
