/**
 * Worker entry of {@link ./upload-helper.ts}: hashes its share of an upload's small files,
 * keeps their bytes, and later stores the buffers it is told to. A third entry point of the
 * compiled binary (scripts/build.ts); it loads no database.
 * @module
 */
import { readFileSync } from "node:fs";
import { computeChecksum } from "../checksum/sha256.ts";
import { tagTempNames, writeFileAtomic } from "./atomic-write.ts";
import type { HelperReply, HelperRequest } from "./upload-helper.ts";

declare const self: Worker;

tagTempNames("helper");

/** Bytes of the files of the last hash request, by position. */
let held: Uint8Array[] = [];

/** Reads a file; a read error (EIO has no path of its own) names the file. */
function readNamingErrors(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    if (error instanceof Error && !(error as NodeJS.ErrnoException).path) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
}

function handle(request: HelperRequest): HelperReply {
  if (request.op === "hash") {
    held = request.paths.map(readNamingErrors);
    return { op: "hashed", files: held.map((bytes) => ({ checksum: computeChecksum(bytes), length: bytes.byteLength })) };
  }
  for (const [index, target] of request.buffers) writeFileAtomic(target, held[index]!, request.fileMode);
  held = [];
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
