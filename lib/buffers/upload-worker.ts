/**
 * Worker entry of {@link ./upload-helper.ts}: reads its claims of an upload's sidecars, hashes
 * its claims of the new small files, and later stores the buffers it is told to from shared
 * memory, publishing its progress there.
 * A third entry point of the compiled binary (scripts/build.ts); it loads no database.
 * @module
 */
import { tagTempNames, writeFileAtomic } from "./atomic-write.ts";
import { hashClaimed } from "./shared-hash.ts";
import { readClaimedSidecars } from "./shared-sidecars.ts";
import type { HelperReply, HelperRequest } from "./upload-helper.ts";

declare const self: Worker;

tagTempNames("helper");

function handle(request: HelperRequest): HelperReply {
  if (request.op === "read") {
    readClaimedSidecars(request.sidecars);
    return { op: "read" };
  }
  if (request.op === "hash") {
    hashClaimed(request.files);
    return { op: "hashed" };
  }
  const bytes = new Uint8Array(request.bytes);
  const progress = request.progress ? new Int32Array(request.progress) : null;
  try {
    const { offsets, lengths } = request.items;
    for (const [position, target] of request.items.targets.split("\0").entries()) {
      writeFileAtomic(target, bytes.subarray(offsets[position]!, offsets[position]! + lengths[position]!), request.fileMode);
      if (progress) {
        Atomics.store(progress, 0, position + 1);
        Atomics.notify(progress, 0);
      }
    }
  } catch (error) {
    if (progress) {
      Atomics.store(progress, 1, 1);
      Atomics.notify(progress, 0);
    }
    throw error;
  }
  return { op: "stored" };
}

self.onmessage = (event: MessageEvent<HelperRequest>) => {
  let reply: HelperReply;
  try {
    reply = handle(event.data);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    reply = { op: "error", message: err?.message ?? String(error), code: err?.code, path: err?.path };
  }
  self.postMessage(reply);
};
