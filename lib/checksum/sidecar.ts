/**
 * `.CHECKSUM` and `.INDEX` sidecar files, byte-compatible with Python Seamless (cli-spec §1.5).
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { fsPromises } from "../disk/lazy-node.ts";
import { SeamlessError } from "../errors.ts";
import { parseChecksum, type Checksum } from "./checksum.ts";
import { readUpTo } from "./file-content.ts";
import { parsePlain, serializePlain } from "../serialize/plain-json.ts";
import { validateIndexKey } from "../serialize/deep-index.ts";
import { stripCompressionSuffix } from "./compression.ts";

/** The `.CHECKSUM` path of a file: next to it, without its `.gz`/`.zst` suffix (cli-spec §1.5). */
export function fileSidecarPath(path: string): string {
  return `${stripCompressionSuffix(path)}.CHECKSUM`;
}

/** A sidecar that exists but cannot be used. */
export class InvalidSidecarError extends SeamlessError {}

/** Python `strip_textdata`: strip whitespace, drop `#` comment lines (cli-spec §1.5). */
export function stripTextData(text: string): string {
  let previous: string;
  do {
    previous = text;
    text = text.trim();
  } while (text !== previous);
  return text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n");
}

/**
 * Parses the text of a `.CHECKSUM` file.
 *
 * @param text the file's text
 * @param path the file's path, for the error message
 * @returns the checksum
 * @throws {InvalidSidecarError} when the text is not a checksum
 */
export function parseChecksumSidecar(text: string, path: string): Checksum {
  try {
    return parseChecksum(stripTextData(text));
  } catch {
    throw new InvalidSidecarError(`Invalid checksum file "${path}": does not contain a valid checksum`);
  }
}

/** The most a `.CHECKSUM` file may hold (64 hex digits, whitespace and `#` comment lines). */
export const MAX_CHECKSUM_SIDECAR_BYTES = 64 * 1024;
/** The most an `.INDEX` file may hold (~2 million entries). */
export const MAX_INDEX_SIDECAR_BYTES = 256 * 1024 * 1024;

/**
 * Reads a sidecar file as text: it must be a regular file of at most `maxBytes`. Opened
 * non-blocking, so a FIFO under a sidecar's name is refused instead of waited on.
 *
 * @param path the sidecar
 * @param maxBytes the size limit
 * @returns the text
 * @throws {InvalidSidecarError} for anything but a regular file, or a file over the limit
 * @example Refusing a FIFO
 * ```ts
 * // mkfifo f.CHECKSUM
 * assertThrows(() => readSidecarText("f.CHECKSUM", MAX_CHECKSUM_SIDECAR_BYTES), InvalidSidecarError);
 * ```
 */
export function readSidecarText(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new InvalidSidecarError(`Invalid sidecar "${path}": not a regular file`);
    if (stats.size > maxBytes) throw new InvalidSidecarError(`Invalid sidecar "${path}": ${stats.size} bytes, more than the ${maxBytes} a sidecar may hold`);
    // Read at most one byte past the limit: a file that grows meanwhile is still refused.
    const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stats.size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) throw new InvalidSidecarError(`Invalid sidecar "${path}": more than the ${maxBytes} bytes a sidecar may hold`);
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

/** Reads a `.CHECKSUM` file. @throws {InvalidSidecarError} */
export function readChecksumSidecar(path: string): Checksum {
  return parseChecksumSidecar(readSidecarText(path, MAX_CHECKSUM_SIDECAR_BYTES), path);
}

/** The bytes of a `.CHECKSUM` file: 64 lower-case hex + `\n`. */
export function formatChecksumSidecar(checksum: Checksum): string {
  return `${checksum}\n`;
}

/**
 * Writes `<path>` (already ending in `.CHECKSUM`) atomically, leaving an identical sidecar
 * untouched: its mtime stays, and replacing files costs more than reading them.
 */
export function writeChecksumSidecar(path: string, checksum: Checksum, likelyExists = false): void {
  writeFileIfChanged(path, formatChecksumSidecar(checksum), likelyExists);
}

/**
 * Writes a file atomically unless it already holds exactly these bytes.
 *
 * @param likelyExists read it without a `stat` first: cheaper when it exists, while a missing
 *   file then costs an exception
 */
export function writeFileIfChanged(path: string, data: Uint8Array | string, likelyExists = false): void {
  const wanted = typeof data === "string" ? Buffer.from(data) : data;
  if (!holdsBytes(path, wanted, likelyExists)) writeFileAtomic(path, wanted);
}

/**
 * Whether a file exists and holds exactly these bytes.
 *
 * @param likelyExists see {@link writeFileIfChanged}
 */
export function holdsBytes(path: string, wanted: Uint8Array, likelyExists = false): boolean {
  if (!likelyExists && !mayHoldSame(path, wanted)) return false;
  try {
    if (wanted.byteLength >= COMPARE_SCRATCH.byteLength) return readFileSync(path).equals(wanted);
    // One byte more than wanted, into a reused buffer: readFileSync reads twice (to see the
    // end) into a fresh 256 KiB buffer.
    const length = readUpTo(path, COMPARE_SCRATCH, 0, wanted.byteLength + 1);
    return length === wanted.byteLength && COMPARE_SCRATCH.subarray(0, length).equals(wanted);
  } catch {
    return false;
  }
}

/** Reused by {@link holdsBytes} for files smaller than itself (sidecars, small indexes). */
const COMPARE_SCRATCH = Buffer.alloc(64 * 1024);

/** Async {@link holdsBytes}. */
export async function holdsBytesAsync(path: string, wanted: Uint8Array, likelyExists = false): Promise<boolean> {
  if (!likelyExists && !mayHoldSame(path, wanted)) return false;
  try {
    return (await fsPromises().readFile(path)).equals(wanted);
  } catch {
    return false;
  }
}

function mayHoldSame(path: string, wanted: Uint8Array): boolean {
  // A non-throwing stat: an ENOENT exception per new sidecar is measurably slow.
  const stats = statSync(path, { throwIfNoEntry: false });
  return stats !== undefined && stats.size === wanted.byteLength;
}

/** A deep index: relative POSIX path → checksum. */
export type DeepIndex = Record<string, Checksum>;

/**
 * Validates a parsed JSON value as a deep index: a flat object of safe relative paths to
 * checksums. Keys are checked so that nothing can be written outside the target directory.
 *
 * @throws {InvalidSidecarError} for anything else
 */
export function validateDeepIndex(value: unknown, source: string): DeepIndex {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidSidecarError(`Invalid index "${source}": not a JSON object`);
  }
  const index: DeepIndex = Object.create(null);
  for (const [key, checksum] of Object.entries(value)) {
    validateIndexKey(key, source);
    if (typeof checksum !== "string") {
      throw new InvalidSidecarError(`Invalid index "${source}": entry "${key}" is not a checksum`);
    }
    try {
      index[key] = parseChecksum(checksum);
    } catch {
      throw new InvalidSidecarError(`Invalid index "${source}": entry "${key}" is not a checksum`);
    }
  }
  return index;
}

/** Parses index text (an `.INDEX` file or an index buffer). @throws {InvalidSidecarError} */
export function parseIndexText(text: string, source: string): DeepIndex {
  let value: unknown;
  try {
    value = parsePlain(stripTextData(text));
  } catch {
    throw new InvalidSidecarError(`Invalid index "${source}": not valid JSON`);
  }
  return validateDeepIndex(value, source);
}

/** Reads an `.INDEX` file. @throws {InvalidSidecarError} */
export function readIndexSidecar(path: string): DeepIndex {
  return parseIndexText(readSidecarText(path, MAX_INDEX_SIDECAR_BYTES), path);
}

/** The index buffer (plain serialization) of a deep index. */
export function serializeDeepIndex(index: DeepIndex): Uint8Array {
  return serializePlain(index);
}
