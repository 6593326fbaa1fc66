/**
 * Turning a result into local output (cli-spec §3.17): stdout capture, or result targets
 * written as files with `.CHECKSUM` (and `.INDEX` for directories).
 * @module
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum, hashFileRaw } from "../checksum/sha256.ts";
import { parseIndexText, writeChecksumSidecar, serializeDeepIndex, type DeepIndex } from "../checksum/sidecar.ts";
import { validateIndexKey } from "../serialize/deep-index.ts";
import { writeFileAtomic } from "../buffers/atomic-write.ts";
import type { BufferStore } from "../buffers/store.ts";
import { NotFoundError } from "../errors.ts";
import type { ResultTargets } from "../transformation/bash-code.ts";

/**
 * The stdout-capture text: leading newlines stripped, trailing newlines collapsed to one.
 * QUIRK (cli-spec §3.17): Python sends non-UTF-8 results to stderr; we keep stdout for data.
 */
export function formatCapturedStdout(buffer: Uint8Array): Uint8Array {
  let start = 0;
  while (start < buffer.length && buffer[start] === 10) start++;
  let end = buffer.length;
  while (end > start && buffer[end - 1] === 10) end--;
  const trimmed = buffer.subarray(start, end);
  if (end === buffer.length) return trimmed;
  return Buffer.concat([trimmed, Buffer.from("\n")]);
}

/** One file to write locally. */
interface LocalFile {
  path: string;
  checksum: Checksum;
}

/** Options of {@link writeResultTargets}. */
export interface TargetOptions {
  store: BufferStore;
  workdir: string;
  download: boolean;
  /** `--scratch`: store no result buffers. */
  scratch?: boolean;
  say: (level: number, text: string) => void;
}

/**
 * Writes result targets: sidecars always, file contents unless `download` is false.
 * Decision (cli-spec §11.1): an existing local file with other content is replaced, atomically,
 * the way a bash redirect would replace it; Python leaves it stale and only updates the sidecar.
 */
export async function writeResultTargets(resultBuffer: Uint8Array, targets: ResultTargets, options: TargetOptions): Promise<void> {
  const result = parseIndexText(Buffer.from(resultBuffer).toString("utf8"), "result");
  const files: LocalFile[] = [];
  for (const [server, localName] of targets) {
    const local = join(options.workdir, localName ?? server);
    // `> ./out.txt` is moved to RESULT/./out.txt, which is the key "out.txt" (Python looks up
    // "./out.txt" and reports no result).
    const resultKey = posix.normalize(server);
    if (resultKey in result) {
      mkdirSync(dirname(local), { recursive: true });
      writeChecksumSidecar(`${local}.CHECKSUM`, result[resultKey]!);
      files.push({ path: local, checksum: result[resultKey]! });
      continue;
    }
    const prefix = `${resultKey}/`;
    const sub: DeepIndex = Object.create(null);
    for (const [key, checksum] of Object.entries(result)) if (key.startsWith(prefix)) sub[key.slice(prefix.length)] = checksum;
    if (Object.keys(sub).length === 0) {
      options.say(0, `No result for '${server}' was returned`);
      continue;
    }
    for (const key of Object.keys(sub)) validateIndexKey(key, "result");
    const indexBytes = serializeDeepIndex(sub);
    // Stored (Python does not), so that the `.CHECKSUM` of a result directory names a buffer
    // that `seamless download` can resolve when the `.INDEX` file is gone.
    if (!options.scratch) await options.store.put(computeChecksum(indexBytes), indexBytes);
    mkdirSync(dirname(local), { recursive: true });
    writeFileAtomic(`${local}.INDEX`, indexBytes);
    writeChecksumSidecar(`${local}.CHECKSUM`, computeChecksum(indexBytes));
    for (const [key, checksum] of Object.entries(sub)) files.push({ path: join(local, key), checksum });
  }
  if (!options.download) return;
  for (const file of files) {
    if (existsSync(file.path)) {
      try {
        if (hashFileRaw(file.path).checksum === file.checksum) continue;
      } catch {}
    }
    mkdirSync(dirname(file.path), { recursive: true });
    if (!(await options.store.getToFile(file.checksum, file.path))) {
      throw new NotFoundError(`Cannot download result "${file.path}": buffer "${file.checksum}" not found in ${options.store.location}`);
    }
  }
}

