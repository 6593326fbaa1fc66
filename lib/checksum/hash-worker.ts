/**
 * Worker entry of the hash pool ({@link ./hash-pool.ts}): hashes the files it is sent, one
 * message each, and answers with the checksum or the error. Built into the binary as a second
 * entry point (scripts/build.ts).
 * @module
 */
import { hashFileContent } from "./file-content.ts";
import type { HashReply, HashRequest } from "./hash-pool.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<HashRequest>) => {
  const { id, path, size } = event.data;
  let reply: HashReply;
  try {
    const { checksum, length } = hashFileContent(path, size);
    reply = { id, checksum, length };
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    reply = { id, error: { message: err?.message ?? String(error), code: err?.code, path: err?.path } };
  }
  self.postMessage(reply);
};
