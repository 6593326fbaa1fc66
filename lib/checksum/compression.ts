// node:zlib costs ~11 ms to load in a compiled binary: loaded only on the paths that need it.
import { zlib } from "../disk/lazy-node.ts";

/** The compression suffixes Seamless recognises, checked in this order (cli-spec §1.5; {@link compressionSuffixOf} spells them out). */
export const COMPRESSION_SUFFIXES = [".zst", ".gz"] as const;
export type CompressionSuffix = (typeof COMPRESSION_SUFFIXES)[number];

/** The compression suffix of a file name, or null. */
export function compressionSuffixOf(name: string): CompressionSuffix | null {
  // Spelled out: an array loop per name costs 10k file arguments milliseconds early in a process.
  return name.endsWith(".zst") ? ".zst" : name.endsWith(".gz") ? ".gz" : null;
}

/** The name with its compression suffix (if any) removed: the "semantic" name. */
export function stripCompressionSuffix(name: string): string {
  const suffix = compressionSuffixOf(name);
  return suffix ? name.slice(0, -suffix.length) : name;
}

/** Decompresses bytes stored under a `.zst`/`.gz` name. */
export function decompress(bytes: Uint8Array, suffix: CompressionSuffix): Uint8Array {
  return suffix === ".gz" ? zlib().gunzipSync(bytes) : Bun.zstdDecompressSync(bytes);
}

/** Compresses bytes for a `.zst`/`.gz` name, at the libraries' default levels. */
export function compress(bytes: Uint8Array, suffix: CompressionSuffix): Uint8Array {
  return suffix === ".gz" ? zlib().gzipSync(bytes) : Bun.zstdCompressSync(bytes);
}
