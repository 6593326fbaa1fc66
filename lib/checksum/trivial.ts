/**
 * Trivial buffers (services-spec §0.3): Seamless clients never store or fetch these, so a
 * cache written by Python may name them without any buffer file. Their bytes are known.
 * @module
 */
import type { Checksum } from "./checksum.ts";
import { computeChecksum } from "./sha256.ts";

const TRIVIAL_TEXTS = ["null", "null\n", "true", "false", "true\n", "false\n", "", "{}", "{}\n", "[]", "[]\n"];

const TRIVIAL = new Map<Checksum, Uint8Array>(TRIVIAL_TEXTS.map((text) => [computeChecksum(text), new TextEncoder().encode(text)]));

/**
 * The bytes of a trivial checksum, or null for any other checksum.
 *
 * @example
 * ```ts
 * trivialBuffer("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // empty bytes
 * ```
 */
export function trivialBuffer(checksum: Checksum): Uint8Array | null {
  return TRIVIAL.get(checksum) ?? null;
}
