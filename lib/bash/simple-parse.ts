/**
 * A fast path for plainly simple command lines, so a new command need not load the
 * tree-sitter parser (~35 ms of wasm compilation, BENCHMARKS.md). It accepts only pipelines of
 * words made of safe characters and single-quoted strings, with at most one trailing `>`/`>>`
 * redirect; anything else returns null and goes to tree-sitter. A differential test
 * (tests/unit/simple-parse.test.ts) checks that both parsers agree on what this one accepts.
 * @module
 */
import type { BashCommand, BashWord, CommandLine } from "./command-line.ts";

const SAFE_CHAR = /[A-Za-z0-9_\-./,:@%+=^]/;
const RESERVED = new Set(["if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "function", "select", "time", "coproc", "in"]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;

/** Reads one word at `i`: safe characters and '…' segments. Returns null if none. */
function readWord(source: string, i: number): { word: BashWord; next: number } | null {
  let text = "";
  let j = i;
  while (j < source.length) {
    const c = source[j]!;
    if (c === "'") {
      const end = source.indexOf("'", j + 1);
      if (end < 0) return null;
      text += source.slice(j + 1, end);
      j = end + 1;
    } else if (SAFE_CHAR.test(c)) {
      text += c;
      j++;
    } else break;
  }
  if (j === i) return null;
  return { word: { text, start: i, end: j }, next: j };
}

/**
 * Parses a simple command line, or returns null when it is not simple enough to be sure.
 *
 * @param source the command string
 */
export function parseSimpleCommandLine(source: string): CommandLine | null {
  const commands: BashCommand[] = [];
  let current: BashWord[] = [];
  let redirect: { start: number; op: string; target: BashWord } | null = null;
  let i = 0;
  const finishCommand = (): boolean => {
    if (current.length === 0) return false;
    const first = current[0]!.text;
    if (RESERVED.has(first) || ASSIGNMENT.test(first)) return false;
    commands.push({ start: current[0]!.start, end: current[current.length - 1]!.end, words: current, redirects: [], pipeline: [] });
    current = [];
    return true;
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === " ") {
      i++;
    } else if (c === "|" && redirect === null) {
      if (source[i + 1] === "|" || source[i + 1] === "&") return null;
      if (!finishCommand()) return null;
      i++;
    } else if (c === ">" && redirect === null) {
      // Only a redirect that stands apart: `cmd > file` (an fd digit glued to it falls back).
      if (i > 0 && source[i - 1] !== " ") return null;
      const op = source[i + 1] === ">" ? ">>" : ">";
      let j = i + op.length;
      if (source[j] === "|" || source[j] === "&") return null;
      while (source[j] === " ") j++;
      const target = readWord(source, j);
      if (!target) return null;
      redirect = { start: i, op, target: target.word };
      i = target.next;
      while (source[i] === " ") i++;
      if (i !== source.length) return null; // nothing may follow the redirect
    } else {
      if (redirect !== null) return null;
      const read = readWord(source, i);
      if (!read) return null;
      if (read.next < source.length && source[read.next] !== " " && source[read.next] !== "|" && source[read.next] !== ">") return null;
      current.push(read.word);
      i = read.next;
    }
  }
  if (!finishCommand()) return null;
  if (redirect) commands[commands.length - 1]!.redirects.push({ start: redirect.start, fd: null, op: redirect.op, target: redirect.target.text, targetStart: redirect.target.start, targetEnd: redirect.target.end });
  const pipeline = commands.map((_, index) => index);
  for (const command of commands) command.pipeline = commands.length > 1 ? pipeline : [commands.indexOf(command)];
  return { commands, compoundRedirects: [], functionNames: [] };
}
