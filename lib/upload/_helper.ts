/**
 * A second thread for uploads of many small files. Per file, such an upload is syscalls (stat,
 * read, create, rename), and those run in parallel when the threads do not create files in the
 * same directory. The helper reads the existing sidecars ahead ({@link readClaimedSidecars})
 * while the main thread stats the inputs. Into a local buffer directory, it hashes new files
 * together with the main thread ({@link hashClaimed}, into shared memory); later it stores
 * those buffers into the prefix directories while the main thread writes the sidecars, and the
 * main thread joins the storing whenever it has caught up ({@link StoreClaims}). A first upload
 * of many small files skips those phases: both threads read, hash and store each file in one
 * pass ({@link uploadClaimed}) while the main thread writes the sidecars. Two threads creating
 * files in the one directory of the sidecars slowed each other down.
 * @module
 */
import type { SharedFiles } from "./_shared-hash.ts";
import type { SharedSidecars } from "./_shared-sidecars.ts";
import type { SharedStores } from "./_shared-store.ts";
import type { OnePassFiles } from "./_one-pass.ts";

/** What the helper is asked to do. */
export type HelperRequest =
  | { op: "read"; sidecars: SharedSidecars }
  | { op: "hash"; files: SharedFiles }
  /** The target directories exist. */
  | { op: "store"; stores: SharedStores }
  | { op: "one-pass"; files: OnePassFiles };

/** What the helper answers. */
export type HelperReply = { op: "read" } | { op: "hashed" } | { op: "stored" } | { op: "uploaded" } | { op: "error"; message: string; code?: string; path?: string };

/** From this many new files, a helper (~5 ms to start) pays for itself several times over. */
export const HELPER_MIN_FILES = 1024;

/** The worker's module: in the compiled binary, where scripts/build.ts puts the entry point (see hash-pool.ts). */
function workerUrl(): string {
  if (import.meta.url.startsWith("file:///$bunfs/")) return "/$bunfs/root/lib/upload/_worker.js";
  return new URL("./_worker.ts", import.meta.url).href;
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

  async #request(request: HelperRequest, expected: HelperReply["op"]): Promise<void> {
    if (this.#pending) throw new Error("upload helper is busy");
    const reply = await new Promise<HelperReply>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(request);
    });
    if (reply.op !== expected) throw new Error("upload helper: unexpected reply");
  }

  /** Joins {@link readClaimedSidecars} on these sidecars; resolves when no claim is left to it. */
  readSidecars(sidecars: SharedSidecars): Promise<void> {
    return this.#request({ op: "read", sidecars }, "read");
  }

  /** Joins {@link hashClaimed} on these files; resolves when no claim is left to it. */
  hash(files: SharedFiles): Promise<void> {
    return this.#request({ op: "hash", files }, "hashed");
  }

  /** Joins {@link StoreClaims} on these buffers; resolves when no claim is left to it. */
  store(stores: SharedStores): Promise<void> {
    return this.#request({ op: "store", stores }, "stored");
  }

  /** Joins {@link uploadClaimed} on these files; resolves when no claim is left to it. */
  uploadInOnePass(files: OnePassFiles): Promise<void> {
    return this.#request({ op: "one-pass", files }, "uploaded");
  }

  close(): void {
    this.#worker.terminate();
  }
}
