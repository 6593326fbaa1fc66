/**
 * Hashing many large files on every core. SHA-256 of one file is sequential, so the
 * parallelism is across files: one Worker per core, each fed the next file as soon as it
 * answers, largest files first so that no thread is left with a big one at the end. The main
 * thread only hands out work, so progress and Ctrl-C stay responsive.
 * @module
 */
import { os } from "../disk/lazy-node.ts";
import type { Checksum } from "./checksum.ts";

/** One file for a worker: `size` from the caller's stat, sent as a number (bigints do not clone cheaply). */
export interface HashRequest {
  id: number;
  path: string;
  size: number;
}

/** A worker's answer: the checksum and buffer length, or the error it met. */
export type HashReply =
  | { id: number; checksum: Checksum; length: number }
  | { id: number; error: { message: string; code?: string; path?: string } };

/** Files in flight per worker: one being hashed, one waiting, so no worker idles on a round trip. */
const IN_FLIGHT = 2;

/**
 * The worker's module. In the compiled binary, shared code lives in chunks at the root of the
 * embedded file system, so a URL relative to this module would miss: the worker entry sits
 * where scripts/build.ts puts it (its path under the repository root, as `.js`).
 */
function workerUrl(): string {
  if (import.meta.url.startsWith("file:///$bunfs/")) return "/$bunfs/root/lib/checksum/hash-worker.js";
  return new URL("./hash-worker.ts", import.meta.url).href;
}

/** How many hashing threads this machine gets: one per core. */
export function hashThreads(): number {
  return os().availableParallelism();
}

/**
 * Hashes files on {@link hashThreads} workers (content decompressed for `.gz`/`.zst` names, as
 * {@link hashFileContent} does).
 *
 * @param files the files, with their sizes from a recent stat (for ordering and the small-file read)
 * @returns checksum and length per file, in input order
 * @throws the first error a worker meets (`code`/`path` kept, so the CLI prints it as a file error)
 */
export async function hashFilesOnAllCores(files: readonly { path: string; size: number }[], threads = hashThreads()): Promise<{ checksum: Checksum; length: number }[]> {
  const results = new Array<{ checksum: Checksum; length: number }>(files.length);
  if (files.length === 0) return results;
  const order = files.map((_, index) => index).sort((a, b) => files[b]!.size - files[a]!.size);
  let next = 0;
  let done = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const feed = (worker: Worker) => {
        if (next >= order.length) return;
        const id = order[next++]!;
        worker.postMessage({ id, path: files[id]!.path, size: files[id]!.size } satisfies HashRequest);
      };
      const count = Math.max(1, Math.min(threads, files.length));
      for (let i = 0; i < count; i++) {
        const worker = new Worker(workerUrl());
        workers.push(worker);
        worker.onmessage = ({ data }: MessageEvent<HashReply>) => {
          if ("error" in data) {
            reject(Object.assign(new Error(data.error.message), { code: data.error.code, path: data.error.path }));
            return;
          }
          results[data.id] = { checksum: data.checksum, length: data.length };
          if (++done === files.length) resolve();
          else feed(worker);
        };
        worker.onerror = (event) => reject(new Error(`hash worker failed: ${event.message}`));
        for (let k = 0; k < IN_FLIGHT; k++) feed(worker);
      }
    });
  } finally {
    for (const worker of workers) worker.terminate();
  }
  return results;
}
