/**
 * Worker entry of {@link ./_helper.ts}: reads its claims of an upload's sidecars, hashes
 * its claims of the new small files, and later stores its claims of their buffers from shared
 * memory.
 * A third entry point of the compiled binary (scripts/build.ts); it loads no database.
 * @module
 */
import { tagTempNames } from "../disk/atomic-write.ts";
import { hashClaimed } from "./_shared-hash.ts";
import { uploadClaimed } from "./_one-pass.ts";
import { readClaimedSidecars } from "./_shared-sidecars.ts";
import { StoreClaims } from "./_shared-store.ts";
import type { HelperReply, HelperRequest } from "./_helper.ts";

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
  if (request.op === "one-pass") {
    uploadClaimed(request.files);
    return { op: "uploaded" };
  }
  new StoreClaims(request.stores).storeAll();
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
