import type { Checksum } from "../checksum/checksum.ts";
import type { BufferDir } from "./bufferdir.ts";

/**
 * A content-addressed buffer store: a local buffer directory or a remote hashserver
 * (the bazel-remote `Proxy` idea). Every read is verified against its checksum.
 */
export interface BufferStore {
  /** Where the buffers live, for messages: a directory path or a URL. */
  readonly location: string;
  /** Batched presence check; never one request per buffer. */
  has(checksums: Checksum[]): Promise<boolean[]>;
  /** Batched lengths of the buffers; null where absent or unknown. */
  lengths(checksums: Checksum[]): Promise<(number | null)[]>;
  /** The verified buffer, or null when absent. @throws {ChecksumMismatchError} on corruption */
  get(checksum: Checksum): Promise<Uint8Array | null>;
  /**
   * Writes the verified buffer to `destination` atomically (temp file + rename), streaming.
   * @returns false when the buffer is absent
   */
  getToFile(checksum: Checksum, destination: string, onProgress?: (bytes: number) => void): Promise<boolean>;
  /** Stores bytes under their checksum. @throws {ChecksumMismatchError} if they do not match */
  put(checksum: Checksum, bytes: Uint8Array): Promise<void>;
  /** Stores a file's (already decompressed if `.gz`/`.zst`) content under its checksum, streaming. */
  putFile(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): Promise<void>;
  /**
   * The local buffer directory this store is, if it is one: callers that can use its files
   * directly (link or stream a stored buffer, copy without a round trip) ask for it instead of
   * testing the store's class. Absent for servers and for several stores as one.
   */
  readonly local?: BufferDir;
  /** Releases sockets or handles. */
  close(): void;
}
