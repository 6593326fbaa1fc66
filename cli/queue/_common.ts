/**
 * What the `seamless queue` verbs share: finding (or starting) the daemon, the `--json`
 * option, job printing and durations.
 * @module
 */
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { cacheDirOf } from "../../lib/config/mod.ts";
import { QueueClient, readDaemonAddress } from "../../lib/clients/queue.ts";
import { SeamlessError, UsageError } from "../../lib/errors.ts";
import { queuePathsOf } from "../../lib/queue/paths.ts";
import type { JobObject } from "../../lib/wire/queue.ts";
import type { OptionSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";

/** `--json`: machine-readable output. */
export const JSON_OPTION: OptionSpec = { key: "json", names: ["--json"], kind: "flag", help: "print JSON" };

/** The queue directory: `$SEAMLESS_QUEUE_DIR`, else `<cache dir>/queue`. */
export function queueDir(): string {
  return process.env.SEAMLESS_QUEUE_DIR || join(cacheDirOf(process.env), "queue");
}

/** How to start this binary again (compiled: itself; from source: bun + the entry script). */
export function selfCommand(): string[] {
  const main = Bun.main;
  return /\.(ts|js)$/.test(main) && !main.startsWith("/$bunfs") ? [process.execPath, main] : [process.execPath];
}

/**
 * A client of the running daemon.
 *
 * @param start start the daemon (detached) when none runs
 * @param startArgs flags for `queue start` when it is started here
 * @throws {SeamlessError} when no daemon runs and `start` is false
 */
export async function connect(start = false, startArgs: string[] = []): Promise<QueueClient> {
  const dir = queueDir();
  const paths = queuePathsOf(dir);
  const address = readDaemonAddress(paths.address);
  if (address) return new QueueClient(address);
  if (!start) throw new SeamlessError("The queue daemon is not running", { hint: "start it with 'seamless queue start --detach' (submit starts it too)" });
  mkdirSync(dir, { recursive: true });
  const log = openSync(paths.daemonLog, "a");
  const child = Bun.spawn([...selfCommand(), "queue", "start", ...startArgs], { stdin: "ignore", stdout: log, stderr: log, detached: true, cwd: dir });
  closeSync(log);
  child.unref();
  let deadline = Date.now() + 15_000;
  let exited = false;
  while (Date.now() < deadline) {
    const started = existsSync(paths.address) ? readDaemonAddress(paths.address) : null;
    if (started) return new QueueClient(started);
    // A daemon started at the same moment by another client wins the database lock; ours exits.
    if (child.exitCode !== null && !exited) (exited = true), (deadline = Math.min(deadline, Date.now() + 2000));
    await Bun.sleep(3);
  }
  throw new SeamlessError(`Cannot start the queue daemon; see "${paths.daemonLog}"`);
}

/** Parses a job id argument. */
export function parseJobId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new UsageError(`invalid job id "${text}"`);
  return id;
}

/** Parses a non-negative integer flag. */
export function parseCount(text: unknown, flag: string): number {
  const n = Number(text);
  if (typeof text !== "string" || !/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a non-negative integer, not "${text}"`);
  return n;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses `90`, `30s`, `15m`, `12h`, `7d`, `2w` into seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} must be a duration like 90, 30s, 15m, 12h or 7d, not "${text}"`);
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"]!;
}

/** Prints a value as JSON, one line. */
export function printJson(value: unknown): void {
  writeStdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** One line per job: id, state, priority, group, exit code, command. */
export function formatJobTable(jobs: JobObject[]): string {
  const rows = jobs.map((job) => [String(job.id), job.state, String(job.priority), job.group, job.exit_code === null ? "-" : String(job.exit_code), job.command.replace(/\s+/g, " ").slice(0, 60)]);
  const header = ["ID", "STATE", "PRI", "GROUP", "EXIT", "COMMAND"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** The details of one job, `key: value` per line. */
export function formatJob(job: JobObject): string {
  const lines: [string, unknown][] = [
    ["id", job.id], ["state", job.state], ["command", job.command], ["plain", job.plain], ["group", job.group], ["priority", job.priority],
    ["label", job.label], ["workdir", job.workdir], ["attempts", `${job.attempts} of ${job.retries + 1}`], ["timeout", job.timeout],
    ["after", [...job.after, ...job.after_any.map((id) => `${id}(any)`), ...job.after_fail.map((id) => `${id}(fail)`)].join(" ") || null],
    ["submitted", job.submitted_at], ["started", job.started_at], ["finished", job.finished_at], ["exit code", job.exit_code],
    ["transformation", job.transformation_checksum], ["result", job.result_checksum], ["wall seconds", job.wall_seconds],
    ["cpu seconds", job.cpu_seconds], ["max rss bytes", job.max_rss_bytes], ["attached to", job.attached_to], ["reason", job.reason],
  ];
  return lines.filter(([, value]) => value !== null && value !== "").map(([key, value]) => `${key}: ${value}`).join("\n") + "\n";
}
