/**
 * One job inside a `seamless worker` process: a bash transformation run with the local
 * execution code (workspace, process group, RESULT, the `__env__` of lib/execute/environment),
 * its result stored before the answer; a
 * Python transformation handed to `seamless-run-transformation` (issue 22 §4b).
 * @module
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { os } from "../disk/lazy-node.ts";
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { SeamlessError } from "../errors.ts";
import { executeBashTransformation } from "../execute/execute-bash.ts";
import { runBash } from "../execute/spawn.ts";
import { shellQuote } from "../execute/workspace.ts";
import { serializePlain, type PlainValue } from "../serialize/plain-json.ts";
import { executionDundersOf, identityOf } from "../transformation/dict.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import type { WorkerRuntime } from "./_worker-protocol.ts";

/** Where the worker finds things beyond its buffer store. */
export interface WorkerEnvironment {
  /** `seamless-run-transformation` for Python transformations: a path, or null to search PATH. */
  pythonRunner: string | null;
  /** The remote-client JSON (services-spec §6.5) handed to the Python runner. */
  remoteClients: string | null;
}

/** A job's outcome inside the worker. */
export interface WorkerJobResult {
  checksum: Checksum;
  runtime: WorkerRuntime;
}

/** Hooks of a running job. */
export interface WorkerJobHooks {
  /** Aborting it kills every process of the job. */
  signal: AbortSignal;
  /** Receives the process group id of the job's command. */
  onStarted: (processGroup: number) => void;
}

/** The executable that runs Python transformations, looked up like a shell would. */
export function findExecutable(name: string, pathVariable = process.env.PATH ?? ""): string | null {
  if (name.includes("/")) return existsSync(name) ? name : null;
  for (const dir of pathVariable.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return null;
}

/** The name of the Python runner on PATH (issue 22 §4b). */
export const PYTHON_RUNNER = "seamless-run-transformation";

/**
 * Where `seamless-run-transformation` is: the executable named by `--python-runner` (or
 * `SEAMLESS_PYTHON_RUNNER`), else the one on PATH.
 *
 * @param named the configured runner, or null
 * @returns its path, or null when it is not installed
 */
export function findPythonRunner(named: string | null): string | null {
  return named ? findExecutable(named) : findExecutable(PYTHON_RUNNER);
}

function runtimeOf(startedAtMs: number, outcome: { wallSeconds: number; cpuUserSeconds: number; cpuSystemSeconds: number; maxRssBytes: number | null }): WorkerRuntime {
  return {
    startedAtMs,
    finishedAtMs: Date.now(),
    wallSeconds: outcome.wallSeconds,
    cpuUserSeconds: outcome.cpuUserSeconds,
    cpuSystemSeconds: outcome.cpuSystemSeconds,
    memoryPeakBytes: outcome.maxRssBytes,
  };
}

/**
 * Runs a bash transformation and stores its result (and a directory result's members) unless
 * `scratch`, so the result is on the buffer server before the jobserver answers.
 *
 * @throws {TransformationFailedError} when the command fails
 */
export async function runBashJob(dict: Record<string, PlainValue>, scratch: boolean, store: BufferStore, hooks: WorkerJobHooks): Promise<WorkerJobResult> {
  const startedAtMs = Date.now();
  const result = await executeBashTransformation(dict, store, {
    onStdoutLine: () => {},
    onStarted: hooks.onStarted,
    signal: hooks.signal,
    // Locally a missing container engine falls back to the host with a warning; nobody would
    // see that warning here, so a worker refuses instead of computing elsewhere (issue 22 §4).
    onWarning: (text) => {
      throw new SeamlessError(`Cannot provide the execution environment on this jobserver's worker: ${text.replace(/; running on the host$/, "")}`);
    },
    storeMember: scratch ? undefined : async (checksum, path) => {
      if (store.local) store.local.putFileSync(checksum, path);
      else await store.putFile(checksum, path);
    },
  });
  if (!scratch && result.buffer) await store.put(result.checksum, result.buffer); // a large file result was streamed to the store
  return { checksum: result.checksum, runtime: runtimeOf(startedAtMs, result.outcome) };
}

/**
 * Hands a Python transformation to `seamless-run-transformation` with `SEAMLESS_REMOTE_CLIENTS`
 * naming the jobserver's own servers, so its result lands where ours would (issue 22 §4b).
 *
 * @throws {SeamlessError} naming what is missing when the runner is not installed
 */
export async function runPythonJob(tfChecksum: Checksum, dict: Record<string, PlainValue>, scratch: boolean, store: BufferStore, env: WorkerEnvironment, hooks: WorkerJobHooks): Promise<WorkerJobResult> {
  const runner = findPythonRunner(env.pythonRunner);
  if (!runner) {
    throw new SeamlessError(
      `Cannot run Python transformation ${tfChecksum}: ${env.pythonRunner ? `"${env.pythonRunner}" does not exist` : `"${PYTHON_RUNNER}" is not on the PATH of the jobserver's machine`}` +
        " (install seamless-transformer there, or name the executable with --python-runner or SEAMLESS_PYTHON_RUNNER)",
    );
  }
  const identity = serializePlain(identityOf(dict));
  await store.put(computeChecksum(identity), identity);
  const dir = mkdtempSync(join(process.env.TMPDIR || os().tmpdir(), "seamless-python-transformer"));
  try {
    const dunders = executionDundersOf(dict);
    const args = [shellQuote(runner), tfChecksum];
    if (Object.keys(dunders).length > 0) {
      writeFileSync(join(dir, "dunder.json"), serializePlain(dunders));
      args.push("--dunder", "dunder.json");
    }
    if (scratch) args.push("--scratch");
    const stdout: string[] = [];
    const startedAtMs = Date.now();
    const processEnv: Record<string, string | undefined> = { ...process.env };
    if (env.remoteClients) processEnv.SEAMLESS_REMOTE_CLIENTS = env.remoteClients;
    const outcome = await runBash(`exec ${args.join(" ")}`, { cwd: dir, env: processEnv, onStdoutLine: (line) => stdout.push(line.trim()), onStarted: hooks.onStarted, signal: hooks.signal });
    if (outcome.exitCode !== 0) {
      const how = outcome.signal ? `was killed by signal ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
      throw new SeamlessError(`${PYTHON_RUNNER} ${how} for transformation ${tfChecksum}${outcome.stderr.trim() ? `:\n${outcome.stderr.trimEnd()}` : ""}`);
    }
    const checksum = stdout.at(-1)?.toLowerCase() ?? "";
    if (!/^[0-9a-f]{64}$/.test(checksum)) throw new SeamlessError(`${PYTHON_RUNNER} printed no result checksum for transformation ${tfChecksum}`);
    return { checksum, runtime: runtimeOf(startedAtMs, outcome) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
