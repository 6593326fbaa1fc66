/**
 * Local execution of a bash transformation (cli-spec §3.16): workspace, `set -u -e` prologue,
 * bash in its own process group, result from `RESULT` (file → bytes, directory → deep index).
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { walkDirectory } from "../checksum/file-checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { serializePlain } from "../serialize/plain-json.ts";
import { SeamlessError, NotFoundError } from "../errors.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import { materializeWorkspace, shellQuote, writeTransformScript } from "./workspace.ts";
import { runBash, type BashOutcome } from "./spawn.ts";
import { condaActivation, containerEnginesOnPath, containerRunCommand, firstErrorLine, isEngineFailure, loadEnvironment } from "./environment.ts";

/** A transformation whose bash code failed. */
export class TransformationFailedError extends SeamlessError {}

/** A produced result. */
export interface BashResult {
  checksum: Checksum;
  buffer: Uint8Array;
  /** For directory results: the member checksums. */
  members: Checksum[];
  outcome: BashOutcome;
}

/** Hooks into a running execution. */
export interface ExecutionHooks {
  onStdoutLine: (line: string) => void;
  onStderr?: (chunk: string) => void;
  /** Receives the process group id of the command as soon as it exists. */
  onStarted?: (processGroup: number) => void;
  /** Aborting kills every process of the command (the execution then throws InterruptedError). */
  signal?: AbortSignal;
  /** Kills the command after this long (a failure, nothing cached). */
  timeoutMs?: number;
  /** Stores a member file of a directory result before the workspace goes away. */
  storeMember?: (checksum: Checksum, path: string) => Promise<void>;
  /** One-line warnings (e.g. `--docker` falling back to the host). */
  onWarning?: (text: string) => void;
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
 */
export async function executeBashTransformation(dict: TransformationDict, store: BufferStore, hooks: ExecutionHooks): Promise<BashResult> {
  const codeEntry = dict.code as [string, string | null, string] | undefined;
  if (!codeEntry) throw new SeamlessError("Transformation has no code pin");
  const codeBytes = await store.get(codeEntry[2]);
  if (!codeBytes) throw new NotFoundError(`Cannot load the code of the transformation: buffer "${codeEntry[2]}" not found in ${store.location}`);
  const code = Buffer.from(codeBytes).toString("utf8").replace(/\n+$/, "");
  const prologue = "set -u -e\ntrap 'jobs -p | xargs -r kill' EXIT\n";
  const environment = await loadEnvironment(dict, store);
  const image = environment?.docker?.name;
  const condaName = environment?.conda_environment;
  const engines = image ? containerEnginesOnPath() : [];
  // On the host, a missing conda is an error before anything is materialized or run.
  const hostScript = () => `${prologue}${condaName ? condaActivation(condaName, false) : ""}${code}`;
  if (engines.length === 0) {
    if (image) hooks.onWarning?.(`--docker ${image}: neither docker nor podman is on PATH; running on the host`);
    hostScript();
  }
  const workspace = await materializeWorkspace(dict, store, { linkBuffers: engines.length === 0 });
  try {
    const runOn = async (launcher: string[] | undefined, script: string): Promise<BashOutcome> => {
      writeTransformScript(workspace, script);
      return runBash(script, {
        cwd: workspace.dir,
        env: { ...process.env, ...workspace.env },
        onStdoutLine: hooks.onStdoutLine,
        onStderr: hooks.onStderr,
        onStarted: hooks.onStarted,
        signal: hooks.signal,
        timeoutMs: hooks.timeoutMs,
        launcher,
      });
    };
    let outcome: BashOutcome | null = null;
    let script = "";
    const failures: string[] = [];
    for (const engine of engines) {
      const status = mkdtempSync(join(dirname(workspace.dir), "seamless-container-status"));
      try {
        const marker = join(status, "started");
        script = `: > ${shellQuote(marker)}\n${prologue}${condaName ? condaActivation(condaName, true) : ""}${code}`;
        const launcher = containerRunCommand(engine, image!, workspace.dir, Object.keys(workspace.env));
        launcher.splice(launcher.length - 1, 0, "--volume", `${status}:${status}`);
        const attempt = await runOn(launcher, script);
        if (!isEngineFailure(attempt.exitCode, marker)) {
          outcome = attempt;
          break;
        }
        failures.push(`${engine.split("/").pop()}: ${firstErrorLine(attempt.stderr)}`);
      } finally {
        rmSync(status, { recursive: true, force: true });
      }
    }
    if (outcome === null) {
      if (failures.length > 0) hooks.onWarning?.(`--docker ${image}: cannot run the image (${failures.join("; ")}); running on the host`);
      script = hostScript();
      outcome = await runOn(undefined, script);
    }
    if (outcome.timedOut) throw new TransformationFailedError(failureMessage(code, `Error: Timed out after ${(hooks.timeoutMs ?? 0) / 1000} s`, outcome));
    if (outcome.exitCode !== 0) {
      const detail = outcome.signal ? `Error: Killed by signal ${outcome.signal}` : `Error: Return code ${outcome.exitCode}`;
      throw new TransformationFailedError(failureMessage(code, detail, outcome));
    }
    const resultPath = join(workspace.dir, "RESULT");
    if (!existsSync(resultPath)) throw new TransformationFailedError(failureMessage(code, "Error: Result file/folder RESULT does not exist", outcome));
    if (statSync(resultPath).isDirectory()) {
      const files = walkDirectory(resultPath, null);
      if (files.length === 0) throw new TransformationFailedError(failureMessage(code, "Error: Result folder RESULT is empty", outcome));
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
    const buffer = readFileSync(resultPath);
    return { checksum: computeChecksum(buffer), buffer, members: [], outcome };
  } finally {
    rmSync(workspace.dir, { recursive: true, force: true });
  }
}
