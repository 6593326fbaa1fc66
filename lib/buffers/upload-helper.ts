/**
 * A second thread for uploads of many small new files into a local buffer directory. Per
 * file, such an upload is syscalls (read, create, rename), and those run in parallel when each
 * thread owns whole files: the helper hashes its share, keeps the bytes, and later stores
 * those buffers itself, so no file content crosses between threads. Sidecars stay on the main
 * thread: two threads creating files in one directory slowed each other down.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";

/** What the helper is asked to do. */
export type HelperRequest =
  | { op: "hash"; paths: string[] }
  /** `buffers`: [position in the hash request, target path]; the prefix directories exist. */
  | { op: "store"; buffers: [number, string][]; fileMode: number };

/** What the helper answers. */
export type HelperReply =
  | { op: "hashed"; files: { checksum: Checksum; length: number }[] }
  | { op: "stored" }
  | { op: "error"; message: string; code?: string; path?: string };

/** From this many new files, a helper (~5 ms to start) pays for itself several times over. */
export const HELPER_MIN_FILES = 1024;

/** The worker's module: in the compiled binary, where scripts/build.ts puts the entry point (see hash-pool.ts). */
function workerUrl(): string {
  if (import.meta.url.startsWith("file:///$bunfs/")) return "/$bunfs/root/lib/buffers/upload-worker.js";
  return new URL("./upload-worker.ts", import.meta.url).href;
}

/** One helper thread; one request at a time. */
export class UploadHelper {
  readonly #worker = new Worker(workerUrl());
  #pending: { resolve: (reply: HelperReply) => void; reject: (error: Error) => void } | null = null;

  constructor() {
    this.#worker.onmessage = ({ data }: MessageEvent<HelperReply>) => {
      const pending = this.#pending;
      this.#pending = null;
      // The file errors keep code and path, so the CLI prints them as it prints its own.
      if (data.op === "error") pending?.reject(Object.assign(new Error(data.message), { code: data.code, path: data.path }));
      else pending?.resolve(data);
    };
    this.#worker.onerror = (event) => {
      this.#pending?.reject(new Error(`upload helper failed: ${event.message}`));
      this.#pending = null;
    };
  }

  #request(request: HelperRequest): Promise<HelperReply> {
    if (this.#pending) return Promise.reject(new Error("upload helper is busy"));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(request);
    });
  }

  /** Hashes small, uncompressed files (read whole) and keeps their bytes for {@link store}. */
  async hash(paths: string[]): Promise<{ checksum: Checksum; length: number }[]> {
    const reply = await this.#request({ op: "hash", paths });
    if (reply.op !== "hashed") throw new Error("upload helper: unexpected reply");
    return reply.files;
  }

  /** Writes held buffers to their targets, atomically; the bytes are then dropped. */
  async store(buffers: [number, string][], fileMode: number): Promise<void> {
    await this.#request({ op: "store", buffers, fileMode });
  }

  close(): void {
    this.#worker.terminate();
  }
}
