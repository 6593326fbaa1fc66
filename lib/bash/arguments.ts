/**
 * Argument typing (`guess_arguments`, cli-spec §3.7): each word becomes a value, a file or a
 * directory, with `.CHECKSUM` sidecars, `.FUTURE` waits and the two rules.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { os } from "../disk/lazy-node.ts";
import { isAbsolute, join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { checksumFile } from "../checksum/file-checksum.ts";
import { compressionSuffixOf } from "../checksum/compression.ts";
import { readChecksumSidecar } from "../checksum/sidecar.ts";
import { staleSidecarError } from "../checksum/stale-sidecar.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import { SeamlessError } from "../errors.ts";
import { typingHint } from "./typing-hints.ts";

/** How an argument was typed. */
export type ArgumentType =
  | { type: "value" }
  | { type: "file" | "directory"; mapping?: string; checksum?: Checksum };

/** Python `PurePath(arg).suffix` (3.11). */
export function pathSuffix(arg: string): string {
  const parts = arg.split("/").filter((p) => p !== "" && p !== ".");
  const name = parts[parts.length - 1] ?? "";
  const i = name.lastIndexOf(".");
  return i > 0 && i < name.length - 1 ? name.slice(i) : "";
}

/** Python `float(text)` succeeds. */
export function isPythonFloat(text: string): boolean {
  const t = text.trim().replaceAll(/(?<=\d)_(?=\d)/g, "");
  return /^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf(inity)?|nan)$/i.test(t);
}

/** `~` expansion like `os.path.expanduser`. */
export function expandUser(path: string): string {
  if (path === "~" || path.startsWith("~/")) return (process.env.HOME || os().homedir()) + path.slice(1);
  return path;
}

/** The rules' switches. */
export interface TypingRules {
  rule1: boolean;
  rule2: boolean;
}

/** Context: where relative arguments live, and how to wait for futures. */
export interface TypingContext {
  /** Directory that relative arguments are resolved against. */
  workdir: string;
  statCache: StatCache | null;
  /** Called once per argument whose `.FUTURE` exists; must return when it is gone. */
  waitForFuture: (futurePath: string) => Promise<void>;
}

function resolveIn(workdir: string, path: string): string {
  return isAbsolute(path) ? path : join(workdir, path);
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function ruleError(number: number, arg: string, lines: string[], hint?: string): SeamlessError {
  return new SeamlessError(lines.map((l) => l.replace("#N", `#${number}`).replace("X", arg)).join("\n"), { hint });
}

/**
 * Types one argument.
 *
 * @param arg the word
 * @param number its 1-based position (rule 2 applies after the first)
 */
export async function typeArgument(arg: string, number: number, rules: TypingRules, context: TypingContext): Promise<ArgumentType> {
  const future = resolveIn(context.workdir, `${arg}.FUTURE`);
  if (existsSync(future)) await context.waitForFuture(future);

  const suffix = compressionSuffixOf(arg);
  const base = (suffix ? arg.slice(0, -suffix.length) : arg).replace(/(?<=.)\/+$/, "");
  if (!arg.endsWith(".CHECKSUM") && !arg.endsWith(".INDEX") && existsSync(resolveIn(context.workdir, `${base}.CHECKSUM`))) {
    const sidecarPath = resolveIn(context.workdir, `${base}.CHECKSUM`);
    let checksum: Checksum;
    try {
      checksum = readChecksumSidecar(sidecarPath);
    } catch {
      throw new SeamlessError(`Argument #${number} '${arg}': ${base}.CHECKSUM file exists, but does not contain a valid checksum`);
    }
    const type = existsSync(resolveIn(context.workdir, `${base}.INDEX`)) ? "directory" : "file";
    const actual = statOrNull(resolveIn(context.workdir, arg));
    if (actual && !actual.isDirectory()) {
      const fileChecksum = checksumFile(resolveIn(context.workdir, arg), context.statCache).checksum;
      if (fileChecksum !== checksum) {
        throw staleSidecarError(arg, "file", `${base}.CHECKSUM`, checksum, fileChecksum, `Argument #${number} '${arg}' exists as file and .CHECKSUM file, but the checksums are not the same`);
      }
    }
    return { type, checksum };
  }

  const extension = pathSuffix(arg);
  const expanded = expandUser(arg);
  const stats = statOrNull(resolveIn(context.workdir, arg)) ?? (expanded !== arg ? statOrNull(resolveIn(context.workdir, expanded)) : null);
  const isFloat = extension !== "" && isPythonFloat(arg);
  if (rules.rule1 && extension !== "" && !isFloat && !arg.endsWith("/")) {
    if (!stats || stats.isDirectory()) {
      throw ruleError(number, arg, [
        stats ? "Argument is a directory." : "Argument does not exist.",
        "Argument #N 'X' has an extension.",
        "Therefore, it must exist as a file.",
        "To disable this rule, specify the -g1 option.",
      ], typingHint(stats ? "rule1-directory" : "rule1-missing", arg, context.workdir));
    }
  }
  if (rules.rule2 && number > 1 && extension === "" && stats && !stats.isDirectory()) {
    throw ruleError(number, arg, [
      "Argument exists as a file.",
      "Argument #N 'X' has no extension.",
      "Therefore, it must not exist as a file.",
      "To disable this rule, specify the -g2 option.",
    ], typingHint("rule2", arg, context.workdir));
  }
  if (arg.endsWith("/") && !(stats && stats.isDirectory())) {
    throw ruleError(number, arg, ["Argument #N 'X' ends with a slash.", "Therefore, it must exist as a directory."], typingHint("rule3", arg, context.workdir));
  }
  if (isFloat || !stats) return { type: "value" };
  const typed: ArgumentType = { type: stats.isDirectory() ? "directory" : "file" };
  if (expanded !== arg) typed.mapping = expanded;
  return typed;
}
