import { SeamlessError } from "../errors.ts";

/** A SHA-256 checksum as 64 lower-case hex characters. */
export type Checksum = string;

/** Raised when text is not a valid checksum. */
export class InvalidChecksumError extends SeamlessError {}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;

/**
 * Parses a checksum the way Python's `bytes.fromhex` does (cli-spec §1.1): upper case is
 * accepted, ASCII whitespace may separate byte pairs, and exactly 32 bytes are required.
 *
 * @param text the checksum text
 * @returns the checksum in canonical lower-case form
 * @throws {InvalidChecksumError} when the text is not 32 hex-encoded bytes
 * @example
 * ```ts
 * parseChecksum("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
 * // "e3b0c442…b855"
 * ```
 */
export function parseChecksum(text: string): Checksum {
  if (text.length === 64 && /^[0-9a-fA-F]{64}$/.test(text)) return text.toLowerCase();
  // bytes.fromhex: whitespace is allowed only between byte pairs.
  let hex = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (" \t\n\r\f\v".includes(ch)) {
      i++;
      continue;
    }
    const pair = text.slice(i, i + 2);
    if (!HEX_PAIR.test(pair)) {
      throw new InvalidChecksumError(`Invalid checksum "${shorten(text)}": not hexadecimal`);
    }
    hex += pair;
    i += 2;
  }
  if (hex.length !== 64) {
    throw new InvalidChecksumError(
      `Invalid checksum "${shorten(text)}": expected 32 bytes (64 hex characters), got ${hex.length / 2}`,
    );
  }
  return hex.toLowerCase();
}

/** Like {@link parseChecksum} but returns `null` instead of throwing. */
export function tryParseChecksum(text: string): Checksum | null {
  try {
    return parseChecksum(text);
  } catch {
    return null;
  }
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
