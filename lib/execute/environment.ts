/**
 * The execution environment of a bash transformation (cli-spec §2.1 `__env__`, §3.16): conda
 * activation, and running inside a container image. Shared by local runs and workers: given a
 * transformation dict, it says what to put before the code and how to launch bash.
 *
 * - `conda_environment`: the script gains `source <root>/etc/profile.d/conda.sh` and
 *   `conda activate <env>` before the code, as Python's generated script does; the root is
 *   `$CONDA_ROOT`, else `conda info --base`. No conda at all is a clear error before anything runs.
 * - `docker.name`: Python only records it and runs on the host. Here the command runs inside the
 *   image when `docker` or `podman` is on PATH and can run it: the workspace is mounted at its
 *   own path, the container runs as the calling user, with no network unless
 *   `SEAMLESS_CONTAINER_NETWORK` names one. When no engine can, the command runs on the host
 *   as in Python, with a one-line warning saying why.
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BufferStore } from "../buffers/store.ts";
import { NotFoundError, SeamlessError } from "../errors.ts";
import { parsePlain } from "../serialize/plain-json.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import type { TransformationEnvironment } from "../transformation/environment.ts";
import { which } from "../bash/executable.ts";
import type { BashOutcome } from "./spawn.ts";
import { shellQuote } from "./workspace.ts";

/** Conda was asked for but cannot be found or activated. */
export class CondaNotFoundError extends SeamlessError {}

/** Container engines tried, in order. */
export const CONTAINER_ENGINES = ["docker", "podman"] as const;

/** What docker and podman exit with when the engine itself failed (no container ran). */
const ENGINE_FAILURE_CODES = new Set([125, 126, 127]);

/**
 * The environment of a transformation dict: `__env__` is the checksum of the environment
 * buffer (as seamless-run records it) or, from other producers, the dict itself.
 *
 * @returns null when the transformation names no environment
 * @throws {NotFoundError} when the environment buffer is not in the store
 */
export async function loadEnvironment(dict: TransformationDict, store: BufferStore): Promise<TransformationEnvironment | null> {
  const entry = dict.__env__;
  if (entry === undefined || entry === null) return null;
  if (typeof entry === "object" && !Array.isArray(entry)) return entry as TransformationEnvironment;
  if (typeof entry !== "string") throw new SeamlessError(`Malformed __env__ in transformation: ${JSON.stringify(entry)}`);
  const bytes = await store.get(entry);
  if (!bytes) throw new NotFoundError(`Cannot load the environment of the transformation: buffer "${entry}" not found in ${store.location}`);
  const value = parsePlain(Buffer.from(bytes).toString("utf8").replace(/\n+$/, ""));
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new SeamlessError(`Environment buffer "${entry}" is not a JSON object`);
  return value as TransformationEnvironment;
}

/** Options of the environment functions: where to look (defaults: this process). */
export interface EnvironmentOptions {
  /** Environment variables consulted (`CONDA_ROOT`, `PATH`, `SEAMLESS_CONTAINER_NETWORK`). */
  environ?: Record<string, string | undefined>;
}

/** `conda info --base`, or null when conda is not on PATH or fails. */
function condaBase(environ: Record<string, string | undefined>): string | null {
  const conda = which("conda", environ.PATH ?? "");
  if (!conda) return null;
  const result = Bun.spawnSync([conda, "info", "--base"], { env: environ as Record<string, string>, stdout: "pipe", stderr: "ignore" });
  const base = result.stdout.toString().trim();
  return result.exitCode === 0 && base ? base : null;
}

/**
 * The lines that activate a conda environment (cli-spec §3.16), placed between the prologue and
 * the code: `\nsource <root>/etc/profile.d/conda.sh\nconda activate <env>\n`.
 *
 * @param inContainer the image has its own conda: its root is found when the script runs
 * @throws {CondaNotFoundError} on the host, when neither `$CONDA_ROOT` nor `conda` gives a root
 */
export function condaActivation(environmentName: string, inContainer: boolean, options: EnvironmentOptions = {}): string {
  const environ = options.environ ?? process.env;
  let root: string;
  if (inContainer) root = environ.CONDA_ROOT ? environ.CONDA_ROOT : "$(conda info --base)";
  else {
    const found = environ.CONDA_ROOT || condaBase(environ);
    if (!found) {
      throw new CondaNotFoundError(`Cannot activate conda environment "${environmentName}": conda not found (set CONDA_ROOT or put conda on PATH)`);
    }
    if (!existsSync(join(found, "etc/profile.d/conda.sh"))) {
      throw new CondaNotFoundError(`Cannot activate conda environment "${environmentName}": "${join(found, "etc/profile.d/conda.sh")}" does not exist`);
    }
    root = found;
  }
  return `\nsource ${root}/etc/profile.d/conda.sh\nconda activate ${environmentName}\n`;
}

/** How to start bash in a container. */
export interface ContainerLaunch {
  engine: string;
  /** argv up to and including the image; `/bin/bash -c SCRIPT` follows. */
  prefix: string[];
}

/**
 * The `run` command line of one engine: workspace mounted at its own path and made the working
 * directory, the calling user (rootless podman keeps the user's id with `--userns=keep-id`),
 * no network unless asked, the workspace's variables passed by name.
 *
 * @param enginePath the engine's executable
 * @param image the image name
 * @param workspaceDir the workspace, mounted read-write
 * @param variables names of environment variables to pass into the container
 */
export function containerRunCommand(enginePath: string, image: string, workspaceDir: string, variables: string[], options: EnvironmentOptions = {}): string[] {
  const environ = options.environ ?? process.env;
  const engine = enginePath.split("/").pop()!;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const user = engine === "podman" && uid !== 0 ? ["--userns=keep-id"] : ["--user", `${uid}:${gid}`];
  const network = environ.SEAMLESS_CONTAINER_NETWORK || "none";
  return [
    enginePath, "run", "--rm", "--network", network, ...user,
    "--volume", `${workspaceDir}:${workspaceDir}`, "--workdir", workspaceDir,
    ...variables.flatMap((name) => ["--env", name]),
    image,
  ];
}

/** The engines on PATH, in the order they are tried. */
export function containerEnginesOnPath(options: EnvironmentOptions = {}): string[] {
  const environ = options.environ ?? process.env;
  return CONTAINER_ENGINES.flatMap((engine) => {
    const path = which(engine, environ.PATH ?? "");
    return path ? [path] : [];
  });
}

/**
 * Whether a container run failed in the engine rather than in the command: the engine's own
 * exit codes (125: could not run, e.g. no daemon or no such image; 126/127: could not start
 * bash) and the script never began (it leaves `startedMarker` as its first act).
 */
export function isEngineFailure(exitCode: number, startedMarker: string): boolean {
  return ENGINE_FAILURE_CODES.has(exitCode) && !existsSync(startedMarker);
}

/** The first meaningful line of an engine's error output, for the one-line warning. */
export function firstErrorLine(stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l !== "");
  return line ? line.replace(/^((error|docker|podman):\s*)+/i, "").slice(0, 200) : "no error message";
}

/** How a transformation will be run: the container engines to try (none: the host). */
export interface ExecutionPlan {
  image: string | null;
  condaEnvironment: string | null;
  /** Engine executables to try, in order; empty when running on the host. */
  engines: string[];
}

/**
 * Decides where a transformation runs, before its workspace is made. Without a usable engine,
 * `--docker` is announced with one warning line, and conda is checked at once (so a missing
 * conda fails before anything is written).
 *
 * @throws {CondaNotFoundError} when conda is needed on the host and cannot be found
 */
export function planExecution(environment: TransformationEnvironment | null, warn: (text: string) => void, options: EnvironmentOptions = {}): ExecutionPlan {
  const image = environment?.docker?.name ?? null;
  const condaEnvironment = environment?.conda_environment ?? null;
  const engines = image ? containerEnginesOnPath(options) : [];
  if (engines.length === 0) {
    if (image) warn(`--docker ${image}: neither docker nor podman is on PATH; running on the host`);
    if (condaEnvironment) condaActivation(condaEnvironment, false, options);
  }
  return { image, condaEnvironment, engines };
}

/** Runs `/bin/bash -c script`, through `launcher` when given; the caller's spawner. */
export type ScriptRunner = (launcher: string[] | undefined, script: string) => Promise<BashOutcome>;

/**
 * Runs `prologue + activation + code` as planned: in the image with each engine in turn, and on
 * the host when none could start it (one warning line with each engine's reason). An engine
 * failure is told apart from the command's own exit code by a marker the script writes first,
 * in a directory mounted next to the workspace.
 *
 * @param variables names of the workspace's environment variables, passed into the container
 * @returns the outcome of the run that started
 * @throws {CondaNotFoundError} when falling back to a host without conda
 */
export async function runAsPlanned(
  plan: ExecutionPlan, workspaceDir: string, variables: string[], prologue: string, code: string, run: ScriptRunner,
  warn: (text: string) => void, options: EnvironmentOptions = {},
): Promise<BashOutcome> {
  const failures: string[] = [];
  for (const engine of plan.engines) {
    const status = mkdtempSync(join(dirname(workspaceDir), "seamless-container-status"));
    try {
      const marker = join(status, "started");
      const activation = plan.condaEnvironment ? condaActivation(plan.condaEnvironment, true, options) : "";
      const launcher = containerRunCommand(engine, plan.image!, workspaceDir, variables, options);
      launcher.splice(launcher.length - 1, 0, "--volume", `${status}:${status}`);
      const outcome = await run(launcher, `: > ${shellQuote(marker)}\n${prologue}${activation}${code}`);
      if (!isEngineFailure(outcome.exitCode, marker)) return outcome;
      failures.push(`${engine.split("/").pop()}: ${firstErrorLine(outcome.stderr)}`);
    } finally {
      rmSync(status, { recursive: true, force: true });
    }
  }
  if (failures.length > 0) warn(`--docker ${plan.image}: cannot run the image (${failures.join("; ")}); running on the host`);
  const activation = plan.condaEnvironment ? condaActivation(plan.condaEnvironment, false, options) : "";
  return run(undefined, `${prologue}${activation}${code}`);
}
