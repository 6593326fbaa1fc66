/** Test helpers for the jobserver: bash transformation dicts put into a buffer store. */
import type { BufferStore } from "../lib/buffers/store.ts";
import { computeChecksum } from "../lib/checksum/sha256.ts";
import { transformationBufferOf } from "../lib/transformation/dict.ts";
import type { PlainValue } from "../lib/serialize/plain-json.ts";

/** A stdout-capturing bash transformation of `command`, as `seamless run 'command'` builds it. */
export async function bashTransformation(store: BufferStore, command: string): Promise<{ dict: Record<string, PlainValue>; tf: string }> {
  const code = Buffer.from(`(\n${command}\n) > RESULT\n`);
  const codeChecksum = computeChecksum(code);
  await store.put(codeChecksum, code);
  const dict: Record<string, PlainValue> = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, codeChecksum] };
  return { dict, tf: transformationBufferOf(dict).checksum };
}

/** The checksum of the bytes `text`. */
export function checksumOfText(text: string): string {
  return computeChecksum(Buffer.from(text));
}
