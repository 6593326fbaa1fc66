import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InterruptedError } from "../../../lib/errors.ts";
import { runBash } from "../../../lib/execute/spawn.ts";
import { acquireTransformationLock } from "../../../lib/execute/single-flight.ts";
import { processesWithCommandLine as processesRunning, tempDir } from "../../helpers.ts";
import { createMemoryLog } from "../../../lib/log.ts";

function uniqueSleep(): string {
  return `${7000 + Math.floor(Math.random() * 1000)}${Math.floor(Math.random() * 1e6)}`;
}


const options = (cwd: string, lines: string[] = []) => ({ cwd, env: process.env, onStdoutLine: (line: string) => void lines.push(line) });

describe("runBash()", () => {
  test("runBash() returns when bash exits although a double fork holds stdout and stderr, and kills it", async () => {
    using dir = tempDir();
    const sleep = uniqueSleep();
    const lines: string[] = [];
    const outcome = await runBash(`(sleep ${sleep} &); echo out`, options(dir.path, lines));
    expect(outcome.exitCode).toBe(0);
    expect(lines).toEqual(["out"]);
    expect(processesRunning(`sleep ${sleep}`)).toEqual([]);
  });

  test("runBash() throws InterruptedError when its signal is aborted, and kills every process", async () => {
    using dir = tempDir();
    const [escapee, foreground] = [uniqueSleep(), uniqueSleep()];
    const controller = new AbortController();
    const running = runBash(`setsid sleep ${escapee} & sleep ${foreground}`, { ...options(dir.path), signal: controller.signal, graceMs: 500 });
    while (processesRunning(`sleep ${foreground}`).length === 0) await Bun.sleep(10);
    controller.abort();
    expect(await running.catch((error) => error)).toBeInstanceOf(InterruptedError);
    expect(processesRunning(`sleep ${escapee}`)).toEqual([]);
    expect(processesRunning(`sleep ${foreground}`)).toEqual([]);
  });

  test("runBash() counts a command killed by SIGTERM as canceled when this process's abort follows (a tree-wide cancel)", async () => {
    using dir = tempDir();
    const controller = new AbortController();
    let group = 0;
    const running = runBash(`sleep ${uniqueSleep()}`, { ...options(dir.path), signal: controller.signal, onStarted: (pgid) => (group = pgid) });
    while (group === 0) await Bun.sleep(5);
    await Bun.sleep(50);
    process.kill(-group, "SIGTERM"); // the command first, as the queue daemon's tree kill may
    setTimeout(() => controller.abort(), 50); // and this process's own signal handler a moment later
    expect(await running.catch((error) => error)).toBeInstanceOf(InterruptedError);
  });

  test("runBash() reports a command that killed itself with SIGTERM as killed, when nothing aborts", async () => {
    using dir = tempDir();
    const outcome = await runBash("kill -TERM $$", { ...options(dir.path), signal: new AbortController().signal });
    expect(outcome.signal).toBe("SIGTERM");
    expect(outcome.exitCode).not.toBe(0);
  });

  test("runBash() kills the job after timeoutMs and says so", async () => {
    using dir = tempDir();
    const sleep = uniqueSleep();
    const outcome = await runBash(`sleep ${sleep}`, { ...options(dir.path), timeoutMs: 200, graceMs: 200 });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.exitCode).not.toBe(0);
    expect(processesRunning(`sleep ${sleep}`)).toEqual([]);
  });
});

describe("acquireTransformationLock()", () => {
  const checksum = "c".repeat(64);

  test("acquireTransformationLock() ignores an empty or foreign lock file: only a live holder's flock counts", async () => {
    using dir = tempDir();
    for (const content of ["", "1\n", "not a pid"]) {
      writeFileSync(join(dir.path, `${checksum}.lock`), content);
      const lock = await acquireTransformationLock(dir.path, checksum);
      expect(lock).not.toBeNull();
      expect(readFileSync(join(dir.path, `${checksum}.lock`), "utf8")).toBe(`${process.pid}\n`);
      lock!.release();
    }
  });

  test("acquireTransformationLock() waits while the lock is held, says for whom, and stops on abort or after maxWaitMs", async () => {
    using dir = tempDir();
    const held = await acquireTransformationLock(dir.path, checksum);
    const controller = new AbortController();
    const { log, lines: told } = createMemoryLog();
    const waiting = acquireTransformationLock(dir.path, checksum, { signal: controller.signal, log });
    await Bun.sleep(50);
    controller.abort();
    expect(await waiting).toBeNull();
    expect(told).toEqual([`Waiting for an identical transformation in process ${process.pid} (lock ${join(dir.path, `${checksum}.lock`)})...`]);
    expect(await acquireTransformationLock(dir.path, checksum, { maxWaitMs: 50 })).toBeNull();
    const second = acquireTransformationLock(dir.path, checksum);
    held!.release();
    const lock = await second;
    expect(lock).not.toBeNull();
    lock!.release();
  });
});
