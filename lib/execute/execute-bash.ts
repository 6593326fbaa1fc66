/**
 * Local execution of a bash transformation (cli-spec §3.16): workspace, `set -u -e` prologue,
 * bash in its own process group, result from `RESULT` (file → bytes, directory → deep index).
 * @module
 */
import { readFileSync, rmSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum, hashFileRaw } from "../checksum/sha256.ts";
import { walkDirectory } from "../checksum/file-checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { serializePlain } from "../serialize/plain-json.ts";
import { SeamlessError, NotFoundError } from "../errors.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import { materializeWorkspace, writeTransformScript } from "./workspace.ts";
import { runBash, type BashOutcome } from "./spawn.ts";
import { loadEnvironment, planExecution, runAsPlanned, type ScriptRunner } from "./environment.ts";
import { makeResultTargetDirs } from "./result-dirs.ts";
import { followFile } from "./follow-file.ts";
import { RUN_PROLOGUE, SPEC_PROLOGUE } from "./_prologue.ts";

/** A transformation whose bash code failed; carries the command's stderr (for the run log). */
export class TransformationFailedError extends SeamlessError {
  constructor(message: string, readonly stderr: string = "") {
    super(message);
  }
}

/** From this size on a file result is streamed to the store (through `storeMember`), not read into memory. */
export const STREAMED_RESULT_BYTES = 64 * 1024 * 1024;

/** A produced result. */
export interface BashResult {
  checksum: Checksum;
  /** The result buffer; absent for a large file result, which `storeMember` has stored already. */
  buffer?: Uint8Array;
  /** For directory results: the member checksums. */
  members: Checksum[];
  outcome: BashOutcome;
}

/** Hooks into a running execution. */
export interface ExecutionHooks {
  onStdoutLine: (line: string) => void;
  onStderr?: (chunk: string) => void;
  /** Aborting kills every process of the command (the execution then throws InterruptedError). */
  signal?: AbortSignal;
  /** Kills the command after this long (a failure, nothing cached). */
  timeoutMs?: number;
  /** Told the process group id once the command runs. */
  onStarted?: (processGroup: number) => void;
  /** Stores a member file of a directory result before the workspace goes away. */
  storeMember?: (checksum: Checksum, path: string) => Promise<void>;
  /** One-line warnings (e.g. `--docker` falling back to the host). */
  onWarning?: (text: string) => void;
  /**
   * Receives the bytes of the `RESULT` file as the command writes them (for a stdout-capture
   * command: its stdout, live). The result itself is read from the finished file as always.
   */
  onResultBytes?: (bytes: Uint8Array) => void;
}

/** `statSync`, or null wherever `existsSync` would say false (missing, dangling link, link loop). */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function failureMessage(code: string, detail: string, outcome: BashOutcome | null): string {
  const stars = "*".repeat(49);
  let text = `Bash transformer exception\n${"=".repeat(26)}\n\n${stars}\n* Command\n${stars}\n${code}\n${stars}\n${detail}\n`;
  if (outcome && outcome.stdoutTail.trim()) text += `${stars}\n* Standard output\n${stars}\n${outcome.stdoutTail.trimEnd()}\n${stars}\n`;
  if (outcome && outcome.stderr.trim()) text += `${stars}\n* Standard error\n${stars}\n${outcome.stderr.trimEnd()}\n${stars}\n`;
  return text.trimEnd();
}

/**
 * Executes a bash transformation dict and returns its result buffer; the workspace is removed
 * in every case.
 *
 * @throws {TransformationFailedError} on a non-zero exit, a timeout, a missing or empty RESULT
 * @throws {InterruptedError} when `hooks.signal` is aborted
 * @throws {CondaNotFoundError} when `conda_environment` is asked for and no conda can activate it
 */
export async function executeBashTransformation(dict: TransformationDict, store: BufferStore, hooks: ExecutionHooks): Promise<BashResult> {
  const codeEntry = dict.code as [string, string | null, string] | undefined;
  if (!codeEntry) throw new SeamlessError("Transformation has no code pin");
  const codeBytes = await store.get(codeEntry[2]);
  if (!codeBytes) throw new NotFoundError(`Cannot load the code of the transformation: buffer "${codeEntry[2]}" not found in ${store.location}`);
  const code = Buffer.from(codeBytes).toString("utf8").replace(/\n+$/, "");
  const warn = (text: string) => hooks.onWarning?.(text);
  const plan = planExecution(await loadEnvironment(dict, store), warn);
  // A container sees only the workspace: pins are written into it, not linked to the buffer directory.
  const workspace = await materializeWorkspace(dict, store, { linkBuffers: plan.engines.length === 0 });
  try {
    const run: ScriptRunner = (launcher, script) => {
      writeTransformScript(workspace, script.replace(RUN_PROLOGUE, SPEC_PROLOGUE));
      makeResultTargetDirs(workspace.dir, code);
      const followed = hooks.onResultBytes ? followFile(join(workspace.dir, "RESULT"), hooks.onResultBytes) : null;
      return runBash(script, {
        cwd: workspace.dir,
        env: { ...process.env, ...workspace.env },
        onStdoutLine: hooks.onStdoutLine,
        onStderr: hooks.onStderr,
        signal: hooks.signal,
        timeoutMs: hooks.timeoutMs,
        onStarted: hooks.onStarted,
        launcher,
      }).catch((error) => {
        try {
          workspace.linked.verifyUnchanged(); // drops a buffer the command changed, whatever ended it
        } catch {}
        throw error;
      }).finally(() => followed?.finish());
    };
    const outcome = await runAsPlanned(plan, workspace.dir, Object.keys(workspace.env), RUN_PROLOGUE, code, run, warn);
    workspace.linked.verifyUnchanged();
    if (outcome.timedOut) throw new TransformationFailedError(failureMessage(code, `Error: Timed out after ${(hooks.timeoutMs ?? 0) / 1000} s`, outcome));
    if (outcome.exitCode !== 0) {
      const detail = outcome.signal ? `Error: Killed by signal ${outcome.signal}` : `Error: Return code ${outcome.exitCode}`;
      throw new TransformationFailedError(failureMessage(code, detail, outcome), outcome.stderr);
    }
    const resultPath = join(workspace.dir, "RESULT");
    const resultStat = statOrNull(resultPath);
    if (!resultStat) throw new TransformationFailedError(failureMessage(code, "Error: Result file/folder RESULT does not exist", outcome), outcome.stderr);
    if (resultStat.isDirectory()) {
      const files = walkDirectory(resultPath, null);
      if (files.length === 0) throw new TransformationFailedError(failureMessage(code, "Error: Result folder RESULT is empty", outcome), outcome.stderr);
      const index: Record<string, string> = Object.create(null);
      const members: Checksum[] = [];
      // Result keys are the paths as written: compression suffixes are not stripped here.
      for (const file of files) {
        const key = file.path.slice(resultPath.length + 1);
        const checksum = file.key === key ? file.checksum : computeChecksum(readFileSync(file.path));
        index[key] = checksum;
        members.push(checksum);
        await hooks.storeMember?.(checksum, file.path);
      }
      const buffer = serializePlain(index);
      return { checksum: computeChecksum(buffer), buffer, members, outcome };
    }
    const size = resultStat.size;
    if (size >= STREAMED_RESULT_BYTES) {
      // Hashed and stored as a stream, never held whole: memory stays bounded for a 1 GB output.
      const { checksum } = hashFileRaw(resultPath);
      await hooks.storeMember?.(checksum, resultPath);
      return { checksum, members: [], outcome };
    }
    const buffer = readFileSync(resultPath);
    return { checksum: computeChecksum(buffer), buffer, members: [], outcome };
  } finally {
    workspace.linked.close();
    rmSync(workspace.dir, { recursive: true, force: true });
  }
}
