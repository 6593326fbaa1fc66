/**
 * Questions on the terminal for large uploads and downloads (cli-spec §3.12, §5).
 * @module
 */
import { readSync } from "node:fs";
import { SeamlessError } from "../lib/errors.ts";
import { stdinIsTerminal, writeStdout } from "./stdio.ts";

/** -y / -n / ask. */
export type AutoConfirm = "yes" | "no" | null;

/**
 * Asks an open question on the terminal; without one, returns "" (the caller's default).
 *
 * @returns the trimmed, lower-cased answer
 * @throws {SeamlessError} when the terminal cannot be read
 */
export function ask(question: string): string {
  if (!stdinIsTerminal()) return "";
  writeStdout(question);
  const buffer = Buffer.alloc(256);
  try {
    const n = readSync(0, buffer, 0, 256, null);
    return buffer.subarray(0, n).toString("utf8").trim().toLowerCase();
  } catch {
    throw new SeamlessError("Cannot read an answer from the terminal; use -y or -n");
  }
}

/**
 * A y/n question. Without a terminal there is nobody to ask: the answer is the default.
 */
export function confirm(question: string, auto: AutoConfirm, defaultYes: boolean): boolean {
  if (auto === "yes") return true;
  if (auto === "no") return false;
  const answer = ask(question);
  if (answer === "") return defaultYes;
  return answer === "y" || answer === "yes";
}
