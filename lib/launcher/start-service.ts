/**
 * The server side of launching (services-spec §5.2 steps 2–4), on the machine where the
 * service runs: reuse a running server found through its server JSON, or start the service
 * daemonised with its log next to the JSON and wait until its status file says `running`.
 * @module
 */
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { STATUS_FILE_PLACEHOLDER } from "../config/mod.ts";
import { LAUNCH_KEY_PATTERN, LAUNCH_WORKDIR_PATTERN, checkRunningRecord, decodeServerRecord, type ServerRecord } from "../wire/launcher.ts";
import { isProcessAlive, logFileOf, readIfExists, removeFile, serverFileOf, writeLauncherJson } from "./_files.ts";
import { handshake, handshakeWithRetries } from "./_handshake.ts";
import { lockKey } from "./_key-lock.ts";
import { LaunchError } from "./launch-error.ts";
import type { Log } from "../log.ts";

/** The services our binary may be launched as (the launcher's whitelist, services-spec §5.2). */
export const LAUNCHABLE_SERVICES = ["hashserver", "database", "jobserver"] as const;

/** Options of {@link startServiceHere}. */
export interface StartServiceOptions {
  key: string;
  workdir: string;
  /** The service argv after our binary, e.g. `["hashserver", "--status-file", "{status_file}", …]`. */
  args: string[];
  launcherDir: string;
  /** How to run our own binary: `[path]`, or `[bun, cli/main.ts]` from source. */
  executable: string[];
  networkInterface?: string | null;
  home: string;
  /** Written as `parameters` into the server JSON (services-spec §5.2 step 3; §4.1: a jobserver's buffer and database clients). */
  parameters?: Record<string, unknown>;
  /** How long to wait for `running` (default 60 s, as the launcher's mtime rule). */
  startTimeoutMs?: number;
  /** Says what is started or stopped (level 1). */
  log?: Log;
}

function expandHome(path: string, home: string): string {
  return path === "~" || path.startsWith("~/") ? home + path.slice(1) : path;
}

function addressOf(record: ServerRecord): string {
  const host = record.network_interface && record.network_interface !== "0.0.0.0" ? record.network_interface : "127.0.0.1";
  return `http://${host}:${record.port}`;
}

/** The log's last lines (a usage error ends with "Try … --help", the reason is before it). */
function lastLogLines(logPath: string): string {
  try {
    const lines = readFileSync(logPath, "utf8").trim().split("\n").filter(Boolean);
    return lines.slice(-2).join(" / ").slice(0, 400);
  } catch {
    return "";
  }
}

/**
 * Finds or starts the service of `key`. Holds a lock on the key meanwhile, so that two
 * clients racing here start it once.
 *
 * @returns the server JSON of a running server
 * @throws {LaunchError} when the service cannot start; the message names its log
 */
export async function startServiceHere(options: StartServiceOptions): Promise<ServerRecord> {
  const { key } = options;
  if (!LAUNCH_KEY_PATTERN.test(key)) throw new LaunchError(`Cannot launch "${key}": invalid key`);
  if (!LAUNCH_WORKDIR_PATTERN.test(options.workdir)) throw new LaunchError(`Cannot launch "${key}": invalid work directory "${options.workdir}"`);
  if (!(LAUNCHABLE_SERVICES as readonly string[]).includes(options.args[0] ?? "")) throw new LaunchError(`Cannot launch "${key}": "${options.args[0]}" is not a launchable service`);
  const serverFile = serverFileOf(options.launcherDir, key);
  const release = await lockKey(join(options.launcherDir, "server"), key, 120_000);
  try {
    const existing = decodeServerRecord(readIfExists(serverFile) ?? "");
    if (existing) {
      const reused = await reuseExisting(existing, options);
      if (reused) return reused;
      removeFile(serverFile);
    } else {
      removeFile(serverFile); // absent, or not JSON
    }
    return await launch(options);
  } finally {
    release();
  }
}

/** A running (or starting) server that answers, else null after killing what is left of it. */
async function reuseExisting(record: ServerRecord, options: StartServiceOptions): Promise<ServerRecord | null> {
  const alive = isProcessAlive(record.pid);
  if (record.status === "running" && checkRunningRecord(record) === null && alive) {
    if (await handshakeWithRetries(addressOf(record), 3, 500)) return record;
  } else if (record.status === "starting" && alive) {
    try {
      return await waitUntilRunning(options, () => isProcessAlive(record.pid), record.log);
    } catch {}
  }
  if (alive && record.pid > 1 && record.pid !== process.pid && record.uid === process.getuid?.() && looksLikeService(record.pid)) {
    options.log?.message(1, `Stopping stale server "${options.key}" (pid ${record.pid})`);
    try {
      process.kill(record.pid, "SIGTERM");
    } catch {}
  }
  return null;
}

/** A pid from a stale file may have been reused: only a process that looks like a service is stopped. */
function looksLikeService(pid: number): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return commandLine.includes("seamless") || commandLine.includes("hashserver");
  } catch {
    return false;
  }
}

async function launch(options: StartServiceOptions): Promise<ServerRecord> {
  const serverFile = serverFileOf(options.launcherDir, options.key);
  const logPath = logFileOf(options.launcherDir, options.key);
  const workdir = expandHome(options.workdir, options.home);
  mkdirSync(workdir, { recursive: true });
  const args = options.args.map((arg) => (arg === STATUS_FILE_PLACEHOLDER ? serverFile : expandHome(arg, options.home)));
  const argv = [...options.executable, ...args];
  const logFd = openSync(logPath, "w", 0o600);
  let pid: number | undefined;
  let exited = false;
  try {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: workdir, detached: true, stdio: ["ignore", logFd, logFd], env: process.env });
    pid = child.pid;
    // Our own child is reaped when it exits, so its exit event (not kill 0) says it is gone.
    child.on("exit", () => (exited = true));
    child.on("error", () => (exited = true));
    child.unref();
  } finally {
    closeSync(logFd);
  }
  if (!pid) throw new LaunchError(`Cannot launch "${options.key}": "${argv[0]}" could not be started; log "${logPath}"`);
  options.log?.message(1, `Launched ${args[0]} "${options.key}" (pid ${pid}), log "${logPath}"`);
  const record: ServerRecord = {
    workdir,
    log: logPath,
    command: args.join(" "),
    uid: process.getuid?.() ?? 0,
    pid,
    status: "starting",
    ...(options.networkInterface ? { network_interface: options.networkInterface } : {}),
    meta: { service: args[0] },
    ...(options.parameters ? { parameters: options.parameters } : {}),
  };
  writeLauncherJson(serverFile, record);
  return waitUntilRunning(options, () => !exited, logPath);
}

/**
 * Watches the server JSON until it says `running` and the server answers (services-spec §5.2
 * step 4), failing fast on `failed` or a process that is gone.
 */
async function waitUntilRunning(options: StartServiceOptions, isAlive: () => boolean, logPath: string): Promise<ServerRecord> {
  const serverFile = serverFileOf(options.launcherDir, options.key);
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  const failure = (why: string) => {
    const last = lastLogLines(logPath);
    return new LaunchError(`Cannot launch "${options.key}": ${why}; see its log "${logPath}"${last ? ` (it ends: ${last})` : ""}`);
  };
  let delayMs = 5;
  for (;;) {
    const record = decodeServerRecord(readIfExists(serverFile) ?? "");
    if (record?.status === "failed") {
      // It writes "failed" before it logs why and exits: give it a moment to finish the log.
      for (let i = 0; i < 40 && isAlive(); i++) await Bun.sleep(50);
      throw failure("the server reported failure");
    }
    if (record?.status === "running") {
      const problem = checkRunningRecord(record);
      if (problem) throw failure(`its status file is malformed (${problem})`);
      if (await handshake(addressOf(record), 2_000)) return record;
    }
    if (!isAlive()) {
      const last = decodeServerRecord(readIfExists(serverFile) ?? "");
      throw failure(last?.status === "failed" ? "the server reported failure" : "the server exited during start-up");
    }
    if (Date.now() > deadline) throw failure(`no "running" status within ${Math.round((options.startTimeoutMs ?? 60_000) / 1000)} s`);
    await Bun.sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 100);
  }
}
