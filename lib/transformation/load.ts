/**
 * Loading a stored transformation: its buffer is the plain serialisation of the dict
 * (services-spec §0.3), kept in the buffer store under the transformation checksum.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { NotFoundError, SeamlessError } from "../errors.ts";
import { parsePlain } from "../serialize/plain-json.ts";
import type { TransformationDict } from "./dict.ts";

/**
 * Reads and parses the transformation dict stored under `checksum`.
 *
 * @returns the dict, with the default `__output__` when it has none
 * @throws {NotFoundError} when the buffer is absent
 * @throws {SeamlessError} when the buffer is not a JSON object
 */
export async function loadTransformationDict(store: BufferStore, checksum: Checksum): Promise<TransformationDict> {
  const buffer = await store.get(checksum);
  if (!buffer) throw new NotFoundError(`Cannot load transformation "${checksum}": buffer not found in ${store.location}`);
  let value: unknown;
  try {
    value = parsePlain(Buffer.from(buffer).toString("utf8").replace(/\n+$/, ""));
  } catch {
    value = null;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new SeamlessError(`Buffer "${checksum}" is not a transformation dict`);
  const dict = value as TransformationDict;
  dict.__output__ ??= ["result", "mixed", null];
  return dict;
}
