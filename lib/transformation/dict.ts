/**
 * The transformation dict of a bash transformation and its identity checksum
 * (cli-spec §2.1–§2.2, services-spec §0.3).
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { SeamlessError } from "../errors.ts";
import { serializePlain, type PlainValue } from "../serialize/plain-json.ts";

/** A pin entry: [celltype, subcelltype, checksum]. */
export type PinTriple = [celltype: string, subcelltype: string | null, checksum: Checksum];

/** A transformation dict: dunders plus pins (insertion order kept for queue JSON). */
export type TransformationDict = Record<string, PlainValue>;

const LOAD_BEARING = new Set(["__language__", "__output__", "__as__", "__format__", "__schema__"]);
const NOT_IN_IDENTITY = new Set([
  "__meta__", "__env__", "__compilation__", "__record_probe__", "__code_checksum__", "__code_text__", "__compilers__",
  "__languages__", "__compiled__", "__header__", "__deps__",
]);

/** The identity dict (`tf_get_buffer`): load-bearing dunders and pin triples. @throws {SeamlessError} for unknown dunders */
export function identityOf(dict: TransformationDict): Record<string, PlainValue> {
  const identity: Record<string, PlainValue> = Object.create(null);
  for (const [key, value] of Object.entries(dict)) {
    if (key.startsWith("META__")) continue;
    if (key.startsWith("__")) {
      if (LOAD_BEARING.has(key)) identity[key] = value;
      else if (!NOT_IN_IDENTITY.has(key)) throw new SeamlessError(`Unknown transformation dunder "${key}"`);
      continue;
    }
    if (!Array.isArray(value) || value.length < 3) throw new SeamlessError(`Malformed pin "${key}" in transformation`);
    identity[key] = [value[0]!, value[1]!, value[2]!];
  }
  return identity;
}

/** The transformation buffer (identity serialized as plain) and its checksum. */
export function transformationBufferOf(dict: TransformationDict): { buffer: Uint8Array; checksum: Checksum } {
  const buffer = serializePlain(identityOf(dict));
  return { buffer, checksum: computeChecksum(buffer) };
}

/** The execution dunders of a dict (those not in the identity), for dunder.json. */
export function executionDundersOf(dict: TransformationDict): Record<string, PlainValue> {
  const dunders: Record<string, PlainValue> = {};
  for (const [key, value] of Object.entries(dict)) if (key.startsWith("__") && NOT_IN_IDENTITY.has(key)) dunders[key] = value;
  return dunders;
}
