/**
 * Canceling a transformation that another process of this machine runs (cli-spec §8
 * `seamless-cancel`, the "process" backend): the single-flight lock names the process that runs
 * it; that process is asked to stop (SIGTERM), kills its command's process group and exits 130
 * without caching anything.
 * @module
 */
import { readFileSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { join } from "node:path";
import { isProcessAlive as isAlive, lockHolderOf } from "../concurrency/pid-lock.ts";

/** The answer of one cancellation backend. */
export type CancelOutcome = { status: "canceled"; pid: number } | { status: "not-running" } | { status: "error"; message: string };

/** Whether the pid still runs a seamless command (a lock left behind may name a reused pid). */
function runsSeamless(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("seamless");
  } catch {
    return true; // no /proc: trust the lock
  }
}

/**
 * Cancels the local run of `checksum`, if one holds its single-flight lock.
 *
 * @param lockDir the single-flight lock directory (`<cache>/locks`)
 * @param waitMs how long to wait for the process to stop
 * @returns canceled (with the pid), not-running, or error
 * @example Nothing runs it
 * ```ts
 * assertEquals((await cancelLocalTransformation(lockDir, checksum)).status, "not-running");
 * ```
 */
export async function cancelLocalTransformation(lockDir: string, checksum: Checksum, waitMs = 10_000): Promise<CancelOutcome> {
  const pid = lockHolderOf(join(lockDir, `${checksum}.lock`));
  if (pid === null || pid === process.pid || !isAlive(pid) || !runsSeamless(pid)) return { status: "not-running" };
  try {
    process.kill(pid, "SIGTERM");
  } catch (error) {
    return { status: "error", message: `cannot signal process ${pid}: ${(error as Error).message}` };
  }
  const deadline = Date.now() + waitMs;
  while (isAlive(pid) && Date.now() < deadline) await Bun.sleep(20);
  if (isAlive(pid)) return { status: "error", message: `process ${pid} did not stop within ${Math.round(waitMs / 1000)} s` };
  return { status: "canceled", pid };
}
