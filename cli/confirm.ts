import { SeamlessError } from "../lib/errors.ts";
import { writeStdout, stdinIsTerminal } from "./stdio.ts";

/** -y / -n / ask. */
export type AutoConfirm = "yes" | "no" | null;

/**
 * Asks a y/n question on the terminal. Without a terminal there is nobody to ask: the answer
 * is the default, and a "no" says which flag would proceed.
 */
export function confirm(question: string, auto: AutoConfirm, defaultYes: boolean): boolean {
  if (auto === "yes") return true;
  if (auto === "no") return false;
  if (!stdinIsTerminal()) return defaultYes;
  writeStdout(question);
  const buffer = Buffer.alloc(256);
  let answer = "";
  try {
    const n = require("node:fs").readSync(0, buffer, 0, 256, null) as number;
    answer = buffer.subarray(0, n).toString("utf8").trim().toLowerCase();
  } catch {
    throw new SeamlessError("Cannot read an answer from the terminal; use -y or -n");
  }
  if (answer === "") return defaultYes;
  return answer === "y" || answer === "yes";
}
