/**
 * End-to-end: a run ends when its command's bash exits, leaves no process, workspace or future
 * behind, ends within bounded time on a signal, and never waits on a stale lock (issue 17 items
 * 4, 5, 8, 10). Every test uses a unique `sleep` duration to find its processes.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, killAll, processesWithCommandLine as processesWith, runSeamless, scrubbedEnv, tempDir, waitFor } from "../helpers.ts";

const TIMEOUT_MS = 30_000;

/** A sleep duration no other test or process uses: its processes are findable by command line. */
function uniqueSleep(): string {
  return `${3000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1e6)}`;
}




/** A project dir with a private cache and TMPDIR (where workspaces go). */
function project(dir: string) {
  const tmp = join(dir, "tmp");
  mkdirSync(tmp);
  const env = scrubbedEnv(join(dir, "cache"), { TMPDIR: tmp });
  return { env, tmp, workspaces: () => readdirSync(tmp).filter((name) => name.startsWith("seamless-bash-transformer")) };
}

function spawnRun(args: string[], cwd: string, env: Record<string, string>) {
  return Bun.spawn([BINARY, "run", ...args], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

describe("seamless run: leftover processes of the command (issue 17 item 5)", () => {
  const cases: [string, (s: string) => string, string][] = [
    ["a double-forked process holding stderr", (s) => `(sleep ${s} &); echo x`, "x"],
    ["a setsid escapee", (s) => `setsid sleep ${s} & echo y`, "y"],
    ["nohup ... & disown", (s) => `nohup sleep ${s} >/dev/null 2>&1 & disown; echo z`, "z"],
  ];
  for (const [name, command, output] of cases) {
    test(`run ends when bash exits and kills ${name}`, async () => {
      using dir = tempDir();
      const { env, workspaces } = project(dir.path);
      const sleep = uniqueSleep();
      try {
        const result = await runSeamless(["run", command(sleep)], { cwd: dir.path, env });
        expect(result.stdout).toBe(`${output}\n`);
        expect(result.exitCode).toBe(0);
        expect(processesWith(`sleep ${sleep}`)).toEqual([]);
        expect(workspaces()).toEqual([]);
      } finally {
        killAll(processesWith(`sleep ${sleep}`));
      }
    }, TIMEOUT_MS);
  }
});

describe("seamless run: signals (issue 17 items 5, 8, 10)", () => {
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
    test(`${signal} ends a run whose command has a setsid escapee, kills both, removes workspace and futures`, async () => {
      using dir = tempDir();
      const { env, workspaces } = project(dir.path);
      const [escapee, foreground] = [uniqueSleep(), uniqueSleep()];
      try {
        const child = spawnRun([`setsid sleep ${escapee} & sleep ${foreground}; echo done > out.txt`], dir.path, env);
        await waitFor("the command to start", () => processesWith(`sleep ${foreground}`).length > 0 && processesWith(`sleep ${escapee}`).length > 0);
        expect(existsSync(join(dir.path, "out.txt.FUTURE"))).toBe(true);
        child.kill(signal);
        expect(await child.exited).toBe(130);
        expect(processesWith(`sleep ${escapee}`)).toEqual([]);
        expect(processesWith(`sleep ${foreground}`)).toEqual([]);
        expect(workspaces()).toEqual([]);
        expect(existsSync(join(dir.path, "out.txt.FUTURE"))).toBe(false);
        expect(existsSync(join(dir.path, "out.txt.CHECKSUM"))).toBe(false);
      } finally {
        killAll(processesWith(`sleep ${escapee}`));
        killAll(processesWith(`sleep ${foreground}`));
      }
    }, TIMEOUT_MS);
  }

  test("after kill -9 of run, its watchdog kills the command, and the next run removes its workspace and future", async () => {
    using dir = tempDir();
    const { env, workspaces } = project(dir.path);
    const sleep = uniqueSleep();
    try {
      const child = spawnRun([`sleep ${sleep}; echo done > out.txt`], dir.path, env);
      await waitFor("the command to start", () => processesWith(`sleep ${sleep}`).length > 0);
      child.kill("SIGKILL");
      await child.exited;
      await waitFor("the watchdog to kill the orphaned command", () => processesWith(`sleep ${sleep}`).length === 0);
      expect(workspaces().length).toBe(1);
      expect(existsSync(join(dir.path, "out.txt.FUTURE"))).toBe(true);
      const next = await runSeamless(["run", "echo next > next.txt"], { cwd: dir.path, env });
      expect(next.exitCode).toBe(0);
      expect(processesWith(`sleep ${sleep}`)).toEqual([]);
      expect(workspaces()).toEqual([]);
      expect(existsSync(join(dir.path, "out.txt.FUTURE"))).toBe(false);
    } finally {
      killAll(processesWith(`sleep ${sleep}`));
    }
  }, TIMEOUT_MS);

  test("a future whose writer is dead is stale at once", async () => {
    using dir = tempDir();
    const { env } = project(dir.path);
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    writeFileSync(join(dir.path, "in.txt.FUTURE"), "0000.in.txt\n");
    mkdirSync(join(dir.path, "cache", "futures"), { recursive: true });
    writeFileSync(join(dir.path, "cache", "futures", `${gone.pid}-1-1`), `${join(dir.path, "in.txt.FUTURE")}\n`);
    writeFileSync(join(dir.path, "in.txt"), "data\n");
    const result = await runSeamless(["run", "cat in.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Stale future");
    expect(existsSync(join(dir.path, "in.txt.FUTURE"))).toBe(false);
  }, TIMEOUT_MS);
});

describe("seamless run: single-flight locks (issue 17 item 4)", () => {
  async function tfChecksumOf(command: string, cwd: string, env: Record<string, string>): Promise<string> {
    const result = await runSeamless(["run", "--dry", "-j", "job", command], { cwd, env });
    expect(result.exitCode).toBe(0);
    return result.stdout.trim();
  }

  for (const [name, content] of [["an empty lock file", ""], ["a lock file naming a live unrelated process", `${process.pid}\n`]] as const) {
    test(`${name} does not make run wait`, async () => {
      using dir = tempDir();
      const { env } = project(dir.path);
      const tf = await tfChecksumOf("echo locked-out", dir.path, env);
      mkdirSync(join(dir.path, "cache", "locks"), { recursive: true });
      writeFileSync(join(dir.path, "cache", "locks", `${tf}.lock`), content);
      const result = await runSeamless(["run", "echo locked-out"], { cwd: dir.path, env });
      expect(result.stdout).toBe("locked-out\n");
      expect(result.exitCode).toBe(0);
    }, TIMEOUT_MS);
  }

  test("a waiting run goes on when the lock holder is killed with SIGKILL, and says whom it waited for", async () => {
    using dir = tempDir();
    const { env } = project(dir.path);
    const tag = uniqueSleep();
    // Runs until the file "go" exists (named absolutely: the command runs in a workspace).
    const go = join(dir.path, "go");
    const command = `while [ ! -e ${go} ]; do sleep 0.${tag.slice(0, 2)}; done; echo once`;
    const holder = spawnRun([command], dir.path, env);
    await waitFor("the holder's command", () => processesWith(`sleep 0.${tag.slice(0, 2)}`).length > 0 || holder.exitCode !== null);
    const waiter = spawnRun(["-v", command], dir.path, env);
    let stderr = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of waiter.stderr) stderr += decoder.decode(chunk, { stream: true });
    })();
    const stdout = new Response(waiter.stdout).text();
    await waitFor("the waiter to wait for the lock", () => stderr.includes("Waiting for an identical transformation") || waiter.exitCode !== null);
    holder.kill("SIGKILL");
    await holder.exited;
    // The waiter takes the lock (the holder's orphaned loop is reaped) and runs the command itself.
    await Bun.sleep(300);
    writeFileSync(go, "");
    expect(await waiter.exited).toBe(0);
    await reading;
    expect(await stdout).toBe("once\n");
    expect(stderr).toContain(`Waiting for an identical transformation in process ${holder.pid}`);
  }, TIMEOUT_MS);
});
