/**
 * The second line of an argument-typing error (cli-spec §3.7 rules 1–3): what the word was
 * taken for and how to get what the user meant: `-g1`/`-g2`, a nearest existing file name, a
 * sed expression written so that it does not end in `/`.
 * @module
 */
import { readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";

/** Which rule refused the word. */
export type TypingRule = "rule1-missing" | "rule1-directory" | "rule2" | "rule3";

/** Levenshtein distance, stopping early above `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, current[j]!);
    }
    if (best > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The existing name closest to a missing file name (edit distance ≤ 2, or equal ignoring case),
 * among the first 2,000 names of its directory.
 */
export function nearestExistingName(arg: string, workdir: string): string | null {
  const dir = dirname(arg);
  const name = basename(arg);
  let names: string[];
  try {
    names = readdirSync(isAbsolute(dir) ? dir : join(workdir, dir)).slice(0, 2000);
  } catch {
    return null;
  }
  let best: { name: string; distance: number } | null = null;
  for (const candidate of names) {
    if (candidate.endsWith(".CHECKSUM") || candidate.endsWith(".INDEX") || candidate.endsWith(".FUTURE")) continue;
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, candidate, 2);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best ? (dir === "." && !arg.startsWith("./") ? best.name : join(dir, best.name)) : null;
}

/**
 * The hint for a refused word.
 *
 * @param rule which rule refused it
 * @param arg the word
 * @param workdir where relative words are looked up
 * @returns one or two sentences
 * @example
 * ```ts
 * typingHint("rule1-missing", "{print $1/2.5}", "."); // "'{print $1/2.5}' looks like a program or expression ..."
 * ```
 */
export function typingHint(rule: TypingRule, arg: string, workdir: string): string {
  switch (rule) {
    case "rule1-missing": {
      if (/[{}$()'"=;|<>\\ ]/.test(arg)) {
        return `'${arg}' looks like a program or expression, but its dot made it a file name: add -g1 so that dotted words may be values`;
      }
      if (/[*?[]/.test(arg)) {
        return `'${arg}' looks like a glob that matched no file here (bash expands it inside the transformation, where only inputs exist): add -g1, and name the files with -i`;
      }
      const nearest = nearestExistingName(arg, workdir);
      if (nearest) return `'${arg}' was taken for a file name because of its extension, and does not exist: did you mean '${nearest}'? If it is a value, add -g1`;
      return `'${arg}' was taken for a file name because of its extension, and does not exist: if it is a value (a version, a host name), add -g1`;
    }
    case "rule1-directory":
      return `'${arg}' is a directory with a dot in its name: write '${arg}/' to pass it as a directory, or add -g1`;
    case "rule2":
      return `'${arg}' exists as a file but has no extension, so seamless will not take it for an input: add -g2 to allow it, or give it an extension`;
    case "rule3":
      return /^s(.).*\1.*\1$/.test(arg)
        ? `'${arg}' looks like a sed expression; a word ending in '/' is taken for a directory: write it as '${arg}g' or '${arg};'`
        : `'${arg}' ends with '/', so it was taken for a directory, which does not exist here: create it, or drop the trailing '/'`;
  }
}
