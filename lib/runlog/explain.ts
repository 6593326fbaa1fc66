/**
 * Why a transformation differs from an earlier one (issue 23 §2): the pins of two
 * transformation dicts compared by name: inputs (file and directory pins), variables (`str`
 * pins), the code, the executable (an input used as the command), and the output shape.
 * @module
 */
import { readFileSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { detailsPathOf, type TransformationDetails } from "./append.ts";
import type { StoredRun } from "./entry.ts";
import { hasRunLog, RunLog } from "./run-log.ts";

/** What kind of thing differs. */
export type DifferenceKind = "input" | "executable" | "variable" | "code" | "output";

/** One difference between an earlier transformation and the new one. */
export interface Difference {
  kind: DifferenceKind;
  /** The pin name (file name, variable name), or `code`, or `__output__`. */
  name: string;
  /** The earlier checksum or value; null when the pin is new. */
  old: string | null;
  /** The new checksum or value; null when the pin is gone. */
  new: string | null;
  /** For the code: the lines removed (`- `) and added (`+ `), when both texts are known. */
  lines?: string[];
}

/** The details kept for a transformation, or null when none were kept. */
export function readDetails(cacheDir: string, tfChecksum: Checksum): TransformationDetails | null {
  try {
    const details = JSON.parse(readFileSync(detailsPathOf(cacheDir, tfChecksum), "utf8")) as TransformationDetails;
    return details && typeof details.dict === "object" ? details : null;
  } catch {
    return null;
  }
}

function pinChecksum(value: PlainValue | undefined): string | null {
  return Array.isArray(value) && typeof value[2] === "string" ? value[2] : null;
}

/** The lines only in `before` (`- `) and only in `after` (`+ `), in order; enough for a few-line script. */
function lineChanges(before: string, after: string): string[] {
  const oldLines = before.split("\n");
  const newLines = after.split("\n");
  const oldSet = new Set(oldLines);
  const newSet = new Set(newLines);
  return [...oldLines.filter((line) => !newSet.has(line)).map((line) => `- ${line}`), ...newLines.filter((line) => !oldSet.has(line)).map((line) => `+ ${line}`)];
}

/** Whether a pin name stands where a command would in the code (the start of a line or after `|`, `;`, `&&`). */
function isCommandWord(name: string, code: string | undefined): boolean {
  if (!code) return false;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[|;&(]\\s*|\\n\\s*)(\\./)?${escaped}(\\s|$)`, "m").test(code);
}

/**
 * Compares two transformations.
 *
 * @param before the earlier one's details
 * @param after the new one's details
 * @returns the differences, inputs first; empty when the identities match
 * @example A changed input
 * ```ts
 * const before = { dict: { "a.txt": ["bytes", null, "11…"], code: ["text", null, "cc…"] }, texts: {} };
 * const after = { dict: { "a.txt": ["bytes", null, "22…"], code: ["text", null, "cc…"] }, texts: {} };
 * diffTransformations(before, after); // [{ kind: "input", name: "a.txt", old: "11…", new: "22…" }]
 * ```
 */
export function diffTransformations(before: TransformationDetails, after: TransformationDetails): Difference[] {
  const differences: Difference[] = [];
  const newCode = pinChecksum(after.dict.code);
  const newCodeText = newCode ? after.texts[newCode] : undefined;
  const names = [...new Set([...Object.keys(before.dict), ...Object.keys(after.dict)])];
  for (const name of names) {
    if (name.startsWith("META__") || (name.startsWith("__") && name !== "__output__")) continue;
    const oldValue = before.dict[name];
    const newValue = after.dict[name];
    if (name === "__output__") {
      if (JSON.stringify(oldValue) !== JSON.stringify(newValue)) differences.push({ kind: "output", name, old: JSON.stringify(oldValue ?? null), new: JSON.stringify(newValue ?? null) });
      continue;
    }
    const oldChecksum = pinChecksum(oldValue);
    const newChecksum = pinChecksum(newValue);
    if (oldChecksum === newChecksum && JSON.stringify(oldValue) === JSON.stringify(newValue)) continue;
    if (name === "code") {
      const oldText = oldChecksum ? before.texts[oldChecksum] : undefined;
      const difference: Difference = { kind: "code", name, old: oldChecksum, new: newChecksum };
      if (oldText !== undefined && newCodeText !== undefined) difference.lines = lineChanges(oldText, newCodeText);
      differences.push(difference);
      continue;
    }
    const either = newValue ?? oldValue;
    const celltype = Array.isArray(either) ? either[0] : null;
    if (celltype === "str") {
      const text = (value: PlainValue | undefined, texts: Record<string, string>) => {
        const checksum = pinChecksum(value);
        return checksum === null ? null : (texts[checksum] ?? checksum);
      };
      differences.push({ kind: "variable", name, old: text(oldValue, before.texts), new: text(newValue, after.texts) });
      continue;
    }
    differences.push({ kind: isCommandWord(name, newCodeText) ? "executable" : "input", name, old: oldChecksum, new: newChecksum });
  }
  const order: DifferenceKind[] = ["executable", "input", "variable", "code", "output"];
  return differences.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/** What `seamless explain` finds. */
export interface Explanation {
  tfChecksum: Checksum;
  /** The cached result, when the transformation is answered from cache. */
  cachedResult: Checksum | null;
  /** The earlier run compared with, if any. */
  comparedWith: StoredRun | null;
  /** The earlier run had this very transformation (its result is gone since). */
  sameTransformation: boolean;
  /** Differences from the earlier run's transformation; empty when there is none or its details are gone. */
  differences: Difference[];
  /** The earlier run's details were not kept (an old log, or a cleared run-log directory). */
  detailsMissing: boolean;
}

/**
 * Explains a prepared transformation against the cache and the run log.
 *
 * @param cacheDir the cache directory
 * @param command the command text as `seamless run` would log it
 * @param details the new transformation's details
 * @param tfChecksum its checksum
 * @param cachedResult the result the cache holds for it (with its buffer present), or null
 */
export function explainTransformation(cacheDir: string, command: string, details: TransformationDetails, tfChecksum: Checksum, cachedResult: Checksum | null): Explanation {
  const explanation: Explanation = { tfChecksum, cachedResult, comparedWith: null, sameTransformation: false, differences: [], detailsMissing: false };
  if (!hasRunLog(cacheDir)) return explanation;
  const log = new RunLog(cacheDir);
  try {
    const earlier = log.nearestByCommand(command, process.cwd());
    if (!earlier || !earlier.tfChecksum) return explanation;
    explanation.comparedWith = earlier;
    explanation.sameTransformation = earlier.tfChecksum === tfChecksum;
    if (explanation.sameTransformation) return explanation;
    const before = readDetails(cacheDir, earlier.tfChecksum);
    if (!before) explanation.detailsMissing = true;
    else explanation.differences = diffTransformations(before, details);
    return explanation;
  } finally {
    log.close();
  }
}
