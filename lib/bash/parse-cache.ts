/**
 * Command-line parsing without paying for the parser when possible: simple command lines go
 * through the fast path; others are memoized in the cache directory, keyed by the SHA-256 of
 * the command string (parsing is a pure function), so a repeat run never loads tree-sitter.
 * @module
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { computeChecksum } from "../checksum/sha256.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import type { CommandLine } from "./command-line.ts";
import { parseSimpleCommandLine } from "./simple-parse.ts";

/** Bump when the parse output format or its rules change, so old entries are ignored. */
const PARSE_FORMAT = "v2";

/** Parses through the memo. */
export async function parseCommandLineCached(command: string, cacheDir: string | null): Promise<CommandLine> {
  const simple = parseSimpleCommandLine(command);
  if (simple) return simple;
  const path = cacheDir ? join(cacheDir, "parse-cache", `${computeChecksum(`${PARSE_FORMAT}\0${command}`)}.json`) : null;
  if (path) {
    try {
      return JSON.parse(readFileSync(path, "utf8")) as CommandLine;
    } catch {}
  }
  const { parseCommandLine } = await import("./parse.ts");
  const line = await parseCommandLine(command);
  if (path) {
    try {
      mkdirSync(join(cacheDir!, "parse-cache"), { recursive: true });
      writeFileAtomic(path, JSON.stringify(line));
    } catch {}
  }
  return line;
}
