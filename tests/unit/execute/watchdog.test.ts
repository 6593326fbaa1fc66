import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { isProcessAlive } from "../../../lib/process/process-tree.ts";
import { killAll, processesWithCommandLine as processesRunning, tempDir, waitFor } from "../../helpers.ts";

const SPAWN_MODULE = resolve(import.meta.dir, "..", "..", "..", "lib", "execute", "spawn.ts");

function uniqueSleep(): string {
  return `${5000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1e6)}`;
}

/** Live watchdogs started by process `parent`. */
function watchdogsOf(parent: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" || Number(fields[1]) !== parent) continue;
      if (readFileSync(`/proc/${name}/cmdline`, "latin1").includes("seamless-watchdog")) found.push(Number(name));
    } catch {}
  }
  return found;
}



/** A process that runs `scripts` with runBash() at once, prints "started" once all run, then waits for them. */
function startOwner(dir: string, scripts: string[]) {
  const path = join(dir, "owner.ts");
  writeFileSync(path, `import { runBash } from ${JSON.stringify(SPAWN_MODULE)};
const scripts = ${JSON.stringify(scripts)};
let started = 0;
await Promise.all(scripts.map((script) => runBash(script, { cwd: ${JSON.stringify(dir)}, env: process.env, onStdoutLine: () => {}, onStarted: () => {
  if (++started === scripts.length) console.log("started");
} })));
console.log("finished");
await Bun.sleep(300); // lets the test see the watchdog of a finished owner
`);
  const child = Bun.spawn([process.execPath, path], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  const lineSeen = async (line: string) => {
    while (!text.split("\n").includes(line)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`owner ended before printing "${line}"`);
      text += new TextDecoder().decode(value);
    }
  };
  return { child, lineSeen };
}

describe("the process watchdog", () => {
  test("a process killed with SIGKILL takes every running job's processes with it, setsid escapees included", async () => {
    using dir = tempDir();
    const [first, escapee, second] = [uniqueSleep(), uniqueSleep(), uniqueSleep()];
    try {
      // The quick job is over before the kill: the others must stay guarded after it ended.
      const owner = startOwner(dir.path, ["echo quick", `sleep ${first}`, `setsid sleep ${escapee} & sleep ${second}`]);
      await owner.lineSeen("started");
      await waitFor("the commands to start", () => [first, escapee, second].every((s) => processesRunning(`sleep ${s}`).length > 0));
      expect(watchdogsOf(owner.child.pid)).toHaveLength(1); // one for all jobs
      owner.child.kill("SIGKILL");
      await owner.child.exited;
      await waitFor("the watchdog to kill the orphaned commands", () => [first, escapee, second].every((s) => processesRunning(`sleep ${s}`).length === 0));
    } finally {
      for (const sleep of [first, escapee, second]) killAll(processesRunning(`sleep ${sleep}`));
    }
  }, 30_000);

  test("a watchdog killed from outside is replaced for the jobs still running", async () => {
    using dir = tempDir();
    const sleep = uniqueSleep();
    try {
      const owner = startOwner(dir.path, [`sleep ${sleep}`]);
      await owner.lineSeen("started");
      await waitFor("the watchdog", () => watchdogsOf(owner.child.pid).length === 1);
      const [killed] = watchdogsOf(owner.child.pid);
      process.kill(killed!, "SIGKILL");
      await waitFor("a new watchdog", () => watchdogsOf(owner.child.pid).some((pid) => pid !== killed));
      owner.child.kill("SIGKILL");
      await owner.child.exited;
      await waitFor("the new watchdog to kill the orphaned command", () => processesRunning(`sleep ${sleep}`).length === 0);
    } finally {
      killAll(processesRunning(`sleep ${sleep}`));
    }
  }, 30_000);

  test("jobs that ended normally leave nothing to kill: the owner exits and so does its watchdog", async () => {
    using dir = tempDir();
    const owner = startOwner(dir.path, ["echo one", "echo two"]);
    await owner.lineSeen("finished");
    const watchdogs = watchdogsOf(owner.child.pid);
    expect(watchdogs).toHaveLength(1);
    expect(await owner.child.exited).toBe(0);
    await waitFor("the watchdog to exit", () => !isProcessAlive(watchdogs[0]!));
  }, 30_000);
});
