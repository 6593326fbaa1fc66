/**
 * The parent directories of a bash transformation's result targets, read from its code
 * (cli-spec §3.13: one `mv TARGET RESULT/…` line per target after the command), so that they
 * can exist in the workspace before the command runs. Without them `cmd > work/out.txt` fails
 * in the workspace whenever `work/` holds no input; Python fails there, so no cache entry
 * shared with it can differ (README, compatibility notes).
 * @module
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const MOVE_LINE = /^mv (\S+) RESULT\/\S*$/;

/**
 * The directories that must exist for the result targets of a code text.
 *
 * @param code the transformation's bash code
 * @returns relative directory names, without `.` and without anything absolute or with `..`
 * @example
 * ```ts
 * resultTargetDirsOf("mkdir -p RESULT/work\necho hi > work/out.txt\nmv work/out.txt RESULT/work\n"); // ["work"]
 * ```
 */
export function resultTargetDirsOf(code: string): string[] {
  const dirs = new Set<string>();
  const lines = code.split("\n");
  if (!lines.some((line) => line.startsWith("mkdir -p RESULT/"))) return [];
  for (const line of lines) {
    const match = MOVE_LINE.exec(line);
    if (!match) continue;
    const dir = dirname(match[1]!);
    if (dir === "." || dir.startsWith("/") || dir.split("/").includes("..")) continue;
    dirs.add(dir);
  }
  return [...dirs];
}

/** Creates the result targets' parent directories in a workspace; a name taken by a file is left alone (the command then fails as it would). */
export function makeResultTargetDirs(workspaceDir: string, code: string): void {
  for (const dir of resultTargetDirsOf(code)) {
    try {
      mkdirSync(join(workspaceDir, dir), { recursive: true });
    } catch {}
  }
}
